// Package attributes turns a pod into the security attributes it uses (a Profile) and joins
// profiles. Each attribute lives in its own file: which pod fields it reads, what the effective
// value is, and how two observations join.
//
// A Profile records allowances only: its zero value allows nothing, and Join is a plain union
// (booleans OR, sets union, ranges merge). Requirements such as "every container sets
// runAsNonRoot" are stored as their negation ("some container may run as root"), so they too
// join by OR and a requirement survives only while every observed container satisfies it. This
// makes Join commutative, associative and idempotent: replicas and restarts merge in any order.
package attributes

import (
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

// Observe returns the profile of one pod as the API server admits it.
func Observe(pod *corev1.Pod) Profile {
	view := newPod(pod)
	var p Profile
	for _, observe := range observers {
		observe(view, &p)
	}
	return p
}

// Join returns the least profile that allows everything a or b allows.
func Join(a, b Profile) Profile {
	return Profile{
		HostNetwork:              a.HostNetwork || b.HostNetwork,
		HostPID:                  a.HostPID || b.HostPID,
		HostIPC:                  a.HostIPC || b.HostIPC,
		HostUsers:                a.HostUsers || b.HostUsers,
		Privileged:               a.Privileged || b.Privileged,
		AllowPrivilegeEscalation: a.AllowPrivilegeEscalation || b.AllowPrivilegeEscalation,
		AddedCapabilities:        union(a.AddedCapabilities, b.AddedCapabilities),
		KeepsDefaultCapabilities: a.KeepsDefaultCapabilities || b.KeepsDefaultCapabilities,
		WritableRootFilesystem:   a.WritableRootFilesystem || b.WritableRootFilesystem,
		MayRunAsRoot:             a.MayRunAsRoot || b.MayRunAsRoot,
		RunAsUser:                a.RunAsUser.Join(b.RunAsUser),
		RunAsGroup:               a.RunAsGroup.Join(b.RunAsGroup),
		FSGroup:                  a.FSGroup.Join(b.FSGroup),
		SupplementalGroups:       a.SupplementalGroups.Join(b.SupplementalGroups),
		VolumeTypes:              union(a.VolumeTypes, b.VolumeTypes),
		HostPaths:                a.HostPaths.Join(b.HostPaths),
		FlexVolumeDrivers:        union(a.FlexVolumeDrivers, b.FlexVolumeDrivers),
		CSIDrivers:               union(a.CSIDrivers, b.CSIDrivers),
		HostPorts:                a.HostPorts.Join(b.HostPorts),
		Sysctls:                  union(a.Sysctls, b.Sysctls),
		SeccompProfiles:          union(a.SeccompProfiles, b.SeccompProfiles),
		AppArmorProfiles:         union(a.AppArmorProfiles, b.AppArmorProfiles),
		SELinuxOptions:           joinSELinux(a.SELinuxOptions, b.SELinuxOptions),
		ProcMountTypes:           union(a.ProcMountTypes, b.ProcMountTypes),
		WindowsHostProcess:       a.WindowsHostProcess || b.WindowsHostProcess,
		ProbeHosts:               union(a.ProbeHosts, b.ProbeHosts),
	}
}
