package render

import (
	"fmt"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// Allowance is one thing a profile allows, in words: "hostPID", "capability SYS_ADMIN",
// "hostPath /var/log rw", "runAsUser 0", "runAsNonRoot not set".
type Allowance struct {
	// Field is the Profile field (its JSON name) the allowance comes from.
	Field string
	Text  string
}

// Allowances enumerates everything p allows, in Profile field order. It is the single
// vocabulary of the report's evidence and of the messages of the ValidatingAdmissionPolicy, so
// a denied pod's message and the report name a privilege the same way.
func Allowances(p attributes.Profile) []Allowance {
	var out []Allowance
	flag := func(field string, on bool, text string) {
		if on {
			out = append(out, Allowance{field, text})
		}
	}
	// anyValue says that an attribute was widened past its bound, and why.
	anyValue := func(field, prefix string, f attributes.Fields) {
		if p.AnyValue.Has(f) {
			out = append(out, Allowance{field, fmt.Sprintf("%sany value (more than %d values or %d bytes of them were observed)",
				prefix, attributes.MaxValues, attributes.MaxValueBytes)})
		}
	}
	each := func(field, prefix string, values []string, f attributes.Fields) {
		for _, v := range values {
			out = append(out, Allowance{field, prefix + v})
		}
		anyValue(field, prefix, f)
	}
	ranges := func(field, prefix string, rs attributes.Ranges) {
		for _, r := range rs {
			out = append(out, Allowance{field, prefix + r.String()})
		}
		if j := rs.RoundedTo(); j > 0 {
			out = append(out, Allowance{field, fmt.Sprintf("%srounded out to blocks of 2^%d (more than %d values were observed)",
				prefix, j, attributes.MaxRanges)})
		}
	}
	ids := func(field, prefix string, ids attributes.IDs) {
		ranges(field, prefix, ids.Values)
		flag(field, ids.Unset, prefix+"unset")
	}

	flag(fieldHostNetwork, p.HostNetwork, "hostNetwork")
	flag(fieldHostPID, p.HostPID, "hostPID")
	flag(fieldHostIPC, p.HostIPC, "hostIPC")
	flag(fieldHostUsers, p.HostUsers, "hostUsers")
	flag(fieldPrivileged, p.Privileged, "privileged")
	flag(fieldAllowPrivilegeEscalation, p.AllowPrivilegeEscalation, "allowPrivilegeEscalation")
	each(fieldAddedCapabilities, "capability ", p.AddedCapabilities, attributes.AnyAddedCapabilities)
	flag(fieldKeepsDefaultCapabilities, p.KeepsDefaultCapabilities, "capabilities drop ALL not set")
	flag(fieldWritableRootFilesystem, p.WritableRootFilesystem, "readOnlyRootFilesystem not set")
	flag(fieldMayRunAsRoot, p.MayRunAsRoot, "runAsNonRoot not set")
	ids(fieldRunAsUser, "runAsUser ", p.RunAsUser)
	ids(fieldRunAsGroup, "runAsGroup ", p.RunAsGroup)
	ids(fieldFSGroup, "fsGroup ", p.FSGroup)
	ranges(fieldSupplementalGroups, "supplementalGroups ", p.SupplementalGroups)
	each(fieldVolumeTypes, "volume ", p.VolumeTypes, attributes.AnyVolumeTypes)
	for _, h := range p.HostPaths {
		mode := " rw"
		if h.ReadOnly {
			mode = " ro"
		}
		out = append(out, Allowance{fieldHostPaths, "hostPath " + h.Path + mode})
	}
	anyValue(fieldHostPaths, "hostPath ", attributes.AnyHostPaths)
	each(fieldFlexVolumeDrivers, "flexVolume driver ", p.FlexVolumeDrivers, attributes.AnyFlexVolumeDrivers)
	each(fieldCSIDrivers, "csi driver ", p.CSIDrivers, attributes.AnyCSIDrivers)
	ranges(fieldHostPorts, "hostPort ", p.HostPorts)
	each(fieldSysctls, "sysctl ", p.Sysctls, attributes.AnySysctls)
	each(fieldSeccompProfiles, "seccomp ", p.SeccompProfiles, attributes.AnySeccompProfiles)
	each(fieldAppArmorProfiles, "appArmor ", p.AppArmorProfiles, attributes.AnyAppArmorProfiles)
	for _, s := range p.SELinuxOptions {
		out = append(out, Allowance{fieldSELinuxOptions, "seLinux " + s.String()})
	}
	anyValue(fieldSELinuxOptions, "seLinux ", attributes.AnySELinuxOptions)
	each(fieldProcMountTypes, "procMount ", p.ProcMountTypes, attributes.AnyProcMountTypes)
	flag(fieldWindowsHostProcess, p.WindowsHostProcess, "windows hostProcess")
	each(fieldProbeHosts, "probe host ", p.ProbeHosts, attributes.AnyProbeHosts)
	return out
}

// Profile field names (their JSON names), which tie a restriction to its allowances.
const (
	fieldHostNetwork              = "hostNetwork"
	fieldHostPID                  = "hostPID"
	fieldHostIPC                  = "hostIPC"
	fieldHostUsers                = "hostUsers"
	fieldPrivileged               = "privileged"
	fieldAllowPrivilegeEscalation = "allowPrivilegeEscalation"
	fieldAddedCapabilities        = "addedCapabilities"
	fieldKeepsDefaultCapabilities = "keepsDefaultCapabilities"
	fieldWritableRootFilesystem   = "writableRootFilesystem"
	fieldMayRunAsRoot             = "mayRunAsRoot"
	fieldRunAsUser                = "runAsUser"
	fieldRunAsGroup               = "runAsGroup"
	fieldFSGroup                  = "fsGroup"
	fieldSupplementalGroups       = "supplementalGroups"
	fieldVolumeTypes              = "volumeTypes"
	fieldHostPaths                = "hostPaths"
	fieldFlexVolumeDrivers        = "flexVolumeDrivers"
	fieldCSIDrivers               = "csiDrivers"
	fieldHostPorts                = "hostPorts"
	fieldSysctls                  = "sysctls"
	fieldSeccompProfiles          = "seccompProfiles"
	fieldAppArmorProfiles         = "appArmorProfiles"
	fieldSELinuxOptions           = "seLinuxOptions"
	fieldProcMountTypes           = "procMountTypes"
	fieldWindowsHostProcess       = "windowsHostProcess"
	fieldProbeHosts               = "probeHosts"
)

// allowed returns the texts of p's allowances of one field.
func allowed(p attributes.Profile, field string) []string {
	var out []string
	for _, a := range Allowances(p) {
		if a.Field == field {
			out = append(out, a.Text)
		}
	}
	return out
}
