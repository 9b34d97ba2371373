package attributes

import (
	"slices"

	"github.com/pod-security-advisor/pod-security-advisor/internal/intern"
)

// maxInterned bounds each table of shared values.
const maxInterned = 1 << 15

var (
	// Canonical profiles that allow the same are equal.
	sharedProfiles  = intern.Table[*Profile]{Max: maxInterned, Equal: func(a, b *Profile) bool { return Covers(*a, *b) && Covers(*b, *a) }}
	sharedStrings   = intern.Table[[]string]{Max: maxInterned, Equal: slices.Equal[[]string]}
	sharedRanges    = intern.Table[Ranges]{Max: maxInterned, Equal: slices.Equal[Ranges]}
	sharedHostPaths = intern.Table[HostPaths]{Max: maxInterned, Equal: slices.Equal[HostPaths]}
	sharedSELinux   = intern.Table[[]SELinux]{Max: maxInterned, Equal: slices.Equal[[]SELinux]}
)

// Shared returns a profile equal to p that other records may share, its lists shared with
// other profiles too: most workloads need one of few profiles, and most profiles hold the same
// few lists. Joins never modify their inputs, so sharing is safe. It is for a record that
// changed: it costs a hash of the profile and a lookup per list.
func Shared(p Profile) *Profile {
	var all intern.Hash
	for _, l := range []*[]string{&p.AddedCapabilities, &p.VolumeTypes, &p.FlexVolumeDrivers, &p.CSIDrivers,
		&p.Sysctls, &p.SeccompProfiles, &p.AppArmorProfiles, &p.ProcMountTypes, &p.ProbeHosts} {
		var h intern.Hash
		h.Strings(*l...)
		if len(*l) > 0 {
			*l = sharedStrings.Get(h.Sum(), *l)
		}
		all.Strings(*l...)
	}
	for _, rs := range []*Ranges{&p.RunAsUser.Values, &p.RunAsGroup.Values, &p.FSGroup.Values, &p.SupplementalGroups, &p.HostPorts} {
		var h intern.Hash
		for _, r := range *rs {
			h.Int(r.Min)
			h.Int(r.Max)
			all.Int(r.Min)
			all.Int(r.Max)
		}
		all.Int(int64(len(*rs)))
		if len(*rs) > 0 {
			*rs = sharedRanges.Get(h.Sum(), *rs)
		}
	}
	if len(p.HostPaths) > 0 {
		var h intern.Hash
		for _, hp := range p.HostPaths {
			h.Strings(hp.Path)
			h.Int(boolInt(hp.ReadOnly))
		}
		sum := h.Sum()
		p.HostPaths = sharedHostPaths.Get(sum, p.HostPaths)
		all.Int(int64(sum))
	}
	if len(p.SELinuxOptions) > 0 {
		var h intern.Hash
		for _, s := range p.SELinuxOptions {
			h.Strings(s.User, s.Role, s.Type, s.Level)
		}
		sum := h.Sum()
		p.SELinuxOptions = sharedSELinux.Get(sum, p.SELinuxOptions)
		all.Int(int64(sum))
	}
	var flags int64
	for i, f := range []bool{p.HostNetwork, p.HostPID, p.HostIPC, p.HostUsers, p.Privileged, p.AllowPrivilegeEscalation,
		p.KeepsDefaultCapabilities, p.WritableRootFilesystem, p.MayRunAsRoot, p.WindowsHostProcess,
		p.RunAsUser.Unset, p.RunAsGroup.Unset, p.FSGroup.Unset} {
		flags |= boolInt(f) << i
	}
	all.Int(flags)
	all.Int(int64(p.AnyValue))
	return sharedProfiles.Get(all.Sum(), &p)
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
