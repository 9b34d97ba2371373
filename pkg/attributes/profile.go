// Package attributes turns a pod into the security attributes it uses (a Profile) and joins
// profiles. Each attribute lives in its own file: which pod fields it reads, what the effective
// value is, and how two observations join.
//
// A Profile records allowances only: its zero value allows nothing, and Join is a plain union
// (booleans OR, sets union, ranges merge). Requirements such as "every container sets
// runAsNonRoot" are stored as their negation ("some container may run as root"), so they too
// join by OR and a requirement survives only while every observed container satisfies it. This
// makes Join commutative, associative and idempotent: replicas and restarts merge in any order.
//
// Every attribute is bounded (bounds.go): past its bound, Join widens an attribute (to any value,
// or to coarser ID ranges) rather than growing it or dropping what it holds, so one workload
// cannot grow its record without bound and a learned pod is always allowed.
package attributes

import (
	"encoding/json"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Profile is what a set of pods was observed to need. Every list is sorted and free of
// duplicates, so equal profiles serialise to equal JSON.
type Profile struct {
	HostNetwork              bool      `json:"hostNetwork,omitempty"`
	HostPID                  bool      `json:"hostPID,omitempty"`
	HostIPC                  bool      `json:"hostIPC,omitempty"`
	HostUsers                bool      `json:"hostUsers,omitempty"`
	Privileged               bool      `json:"privileged,omitempty"`
	AllowPrivilegeEscalation bool      `json:"allowPrivilegeEscalation,omitempty"`
	AddedCapabilities        []string  `json:"addedCapabilities,omitempty"`
	KeepsDefaultCapabilities bool      `json:"keepsDefaultCapabilities,omitempty"`
	WritableRootFilesystem   bool      `json:"writableRootFilesystem,omitempty"`
	MayRunAsRoot             bool      `json:"mayRunAsRoot,omitempty"`
	RunAsUser                IDs       `json:"runAsUser,omitzero"`
	RunAsGroup               IDs       `json:"runAsGroup,omitzero"`
	FSGroup                  IDs       `json:"fsGroup,omitzero"`
	SupplementalGroups       Ranges    `json:"supplementalGroups,omitempty"`
	VolumeTypes              []string  `json:"volumeTypes,omitempty"`
	HostPaths                HostPaths `json:"hostPaths,omitempty"`
	FlexVolumeDrivers        []string  `json:"flexVolumeDrivers,omitempty"`
	CSIDrivers               []string  `json:"csiDrivers,omitempty"`
	HostPorts                Ranges    `json:"hostPorts,omitempty"`
	Sysctls                  []string  `json:"sysctls,omitempty"`
	SeccompProfiles          []string  `json:"seccompProfiles,omitempty"`
	AppArmorProfiles         []string  `json:"appArmorProfiles,omitempty"`
	SELinuxOptions           []SELinux `json:"seLinuxOptions,omitempty"`
	ProcMountTypes           []string  `json:"procMountTypes,omitempty"`
	WindowsHostProcess       bool      `json:"windowsHostProcess,omitempty"`
	ProbeHosts               []string  `json:"probeHosts,omitempty"`
	// AnyValue lists the set-valued attributes that were widened to any value: more values
	// were observed than their bound keeps. Their lists are empty.
	AnyValue Fields `json:"anyValue,omitempty"`
}

// observers fill a Profile from one pod, one attribute each.
var observers = []func(*Pod, *Profile){
	observeHostNamespaces,
	observeHostUsers,
	observePrivileged,
	observePrivilegeEscalation,
	observeCapabilities,
	observeReadOnlyRootFilesystem,
	observeRunAsNonRoot,
	observeRunAsUser,
	observeRunAsGroup,
	observeFSGroup,
	observeSupplementalGroups,
	observeVolumes,
	observeHostPaths,
	observeHostPorts,
	observeSysctls,
	observeSeccomp,
	observeAppArmor,
	observeSELinux,
	observeProcMount,
	observeWindowsHostProcess,
	observeProbeHosts,
}

// Observe returns the profile of one pod as the API server admits it. Observers append what they
// find as it comes; one join then sorts, merges and bounds every list at once, so a pod of many
// values costs n log n, not n².
func Observe(pod *corev1.Pod) Profile {
	view := newPod(pod)
	var raw Profile
	for _, observe := range observers {
		observe(view, &raw)
	}
	return Join(Profile{}, raw)
}

// UnmarshalJSON reads a profile and brings it into canonical form within the bounds: stored
// state is hostile input, and a state saved before the bounds existed may be beyond them.
func (p *Profile) UnmarshalJSON(data []byte) error {
	type plain Profile // without this method
	var raw plain
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*p = Join(Profile{}, Profile(raw))
	return nil
}

// Join returns the least profile within the bounds that allows everything a or b allows.
func Join(a, b Profile) Profile {
	w := widen{any: a.AnyValue | b.AnyValue}
	p := Profile{
		HostNetwork:              a.HostNetwork || b.HostNetwork,
		HostPID:                  a.HostPID || b.HostPID,
		HostIPC:                  a.HostIPC || b.HostIPC,
		HostUsers:                a.HostUsers || b.HostUsers,
		Privileged:               a.Privileged || b.Privileged,
		AllowPrivilegeEscalation: a.AllowPrivilegeEscalation || b.AllowPrivilegeEscalation,
		AddedCapabilities:        w.strings(AnyAddedCapabilities, a.AddedCapabilities, b.AddedCapabilities),
		KeepsDefaultCapabilities: a.KeepsDefaultCapabilities || b.KeepsDefaultCapabilities,
		WritableRootFilesystem:   a.WritableRootFilesystem || b.WritableRootFilesystem,
		MayRunAsRoot:             a.MayRunAsRoot || b.MayRunAsRoot,
		RunAsUser:                a.RunAsUser.Join(b.RunAsUser),
		RunAsGroup:               a.RunAsGroup.Join(b.RunAsGroup),
		FSGroup:                  a.FSGroup.Join(b.FSGroup),
		SupplementalGroups:       a.SupplementalGroups.Join(b.SupplementalGroups),
		VolumeTypes:              w.strings(AnyVolumeTypes, a.VolumeTypes, b.VolumeTypes),
		HostPaths:                w.hostPaths(a.HostPaths, b.HostPaths),
		FlexVolumeDrivers:        w.strings(AnyFlexVolumeDrivers, a.FlexVolumeDrivers, b.FlexVolumeDrivers),
		CSIDrivers:               w.strings(AnyCSIDrivers, a.CSIDrivers, b.CSIDrivers),
		HostPorts:                a.HostPorts.Join(b.HostPorts),
		Sysctls:                  w.strings(AnySysctls, a.Sysctls, b.Sysctls),
		SeccompProfiles:          w.strings(AnySeccompProfiles, a.SeccompProfiles, b.SeccompProfiles),
		AppArmorProfiles:         w.strings(AnyAppArmorProfiles, a.AppArmorProfiles, b.AppArmorProfiles),
		SELinuxOptions:           w.seLinux(a.SELinuxOptions, b.SELinuxOptions),
		ProcMountTypes:           w.strings(AnyProcMountTypes, a.ProcMountTypes, b.ProcMountTypes),
		WindowsHostProcess:       a.WindowsHostProcess || b.WindowsHostProcess,
		ProbeHosts:               w.strings(AnyProbeHosts, a.ProbeHosts, b.ProbeHosts),
	}
	p.AnyValue = w.any
	return p
}

// Covers reports whether a already allows everything b allows, that is whether Join(a, b) is
// a. It allocates nothing: it is the admission path's test for "nothing new".
func Covers(a, b Profile) bool {
	if b.AnyValue&^a.AnyValue != 0 {
		return false
	}
	for _, f := range [...][2]bool{
		{a.HostNetwork, b.HostNetwork}, {a.HostPID, b.HostPID}, {a.HostIPC, b.HostIPC},
		{a.HostUsers, b.HostUsers}, {a.Privileged, b.Privileged},
		{a.AllowPrivilegeEscalation, b.AllowPrivilegeEscalation},
		{a.KeepsDefaultCapabilities, b.KeepsDefaultCapabilities},
		{a.WritableRootFilesystem, b.WritableRootFilesystem}, {a.MayRunAsRoot, b.MayRunAsRoot},
		{a.WindowsHostProcess, b.WindowsHostProcess},
	} {
		if f[1] && !f[0] {
			return false
		}
	}
	sets := [...]struct {
		f    Fields
		a, b []string
	}{
		{AnyAddedCapabilities, a.AddedCapabilities, b.AddedCapabilities},
		{AnyVolumeTypes, a.VolumeTypes, b.VolumeTypes},
		{AnyFlexVolumeDrivers, a.FlexVolumeDrivers, b.FlexVolumeDrivers},
		{AnyCSIDrivers, a.CSIDrivers, b.CSIDrivers},
		{AnySysctls, a.Sysctls, b.Sysctls},
		{AnySeccompProfiles, a.SeccompProfiles, b.SeccompProfiles},
		{AnyAppArmorProfiles, a.AppArmorProfiles, b.AppArmorProfiles},
		{AnyProcMountTypes, a.ProcMountTypes, b.ProcMountTypes},
		{AnyProbeHosts, a.ProbeHosts, b.ProbeHosts},
	}
	for _, s := range sets {
		if !a.AnyValue.Has(s.f) && !subset(s.b, s.a) {
			return false
		}
	}
	return a.RunAsUser.covers(b.RunAsUser) && a.RunAsGroup.covers(b.RunAsGroup) && a.FSGroup.covers(b.FSGroup) &&
		a.SupplementalGroups.covers(b.SupplementalGroups) && a.HostPorts.covers(b.HostPorts) &&
		(a.AnyValue.Has(AnyHostPaths) || a.HostPaths.covers(b.HostPaths)) &&
		(a.AnyValue.Has(AnySELinuxOptions) || !slices.ContainsFunc(b.SELinuxOptions, func(s SELinux) bool { return !slices.Contains(a.SELinuxOptions, s) }))
}
