package render

import (
	"slices"
	"strings"
	"testing"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

func names(rs []restriction) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.name)
	}
	return out
}

// TestRestrictionsOnlyWhereNotAllowed: a field the profile allows entirely gives no restriction,
// and one it does not allow gives one.
func TestRestrictionsOnlyWhereNotAllowed(t *testing.T) {
	none, _ := restrictions(attributes.Profile{})
	for _, want := range []string{"hostNetwork", "hostPID", "hostIPC", "hostUsers", "privileged", "allowPrivilegeEscalation",
		"addedCapabilities", "dropAll", "readOnlyRootFilesystem", "runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup",
		"supplementalGroups", "volumeTypes", "hostPorts", "sysctls", "seccompProfiles", "appArmorProfiles", "seLinuxOptions",
		"procMountTypes", "windowsHostProcess", "probeHosts"} {
		if !slices.Contains(names(none), want) {
			t.Errorf("empty profile: no %s restriction", want)
		}
	}

	all := attributes.Profile{
		HostNetwork: true, HostPID: true, HostIPC: true, HostUsers: true, Privileged: true, AllowPrivilegeEscalation: true,
		KeepsDefaultCapabilities: true, WritableRootFilesystem: true, MayRunAsRoot: true, WindowsHostProcess: true,
		VolumeTypes: volumeSources, ProcMountTypes: []string{"Default", "Unmasked"},
		HostPaths: attributes.HostPaths{{Path: "/var/log", ReadOnly: false}},
	}
	rs, vars := restrictions(all)
	for _, unwanted := range []string{"hostNetwork", "hostPID", "hostIPC", "hostUsers", "privileged", "allowPrivilegeEscalation",
		"dropAll", "readOnlyRootFilesystem", "runAsNonRoot", "volumeTypes", "procMountTypes", "windowsHostProcess", "hostPathReadOnly"} {
		if slices.Contains(names(rs), unwanted) {
			t.Errorf("permissive profile: unexpected %s restriction", unwanted)
		}
	}
	if len(vars) != 0 {
		t.Errorf("no read-only host path, yet variables %v", vars)
	}
	// Drivers are limited only where their volume type is allowed at all.
	for _, want := range []string{"hostPaths", "flexVolumeDrivers", "csiDrivers"} {
		if !slices.Contains(names(rs), want) {
			t.Errorf("permissive profile: no %s restriction", want)
		}
	}
}

// TestWidenedAttributesUnrestricted: an attribute widened to any value (past its bound) gives
// no restriction at all, so no pod that was learned is denied.
func TestWidenedAttributesUnrestricted(t *testing.T) {
	p := attributes.Profile{AnyValue: ^attributes.Fields(0), VolumeTypes: []string{"hostPath"}}
	rs, vars := restrictions(p)
	for _, unwanted := range []string{"addedCapabilities", "volumeTypes", "hostPaths", "hostPathReadOnly", "flexVolumeDrivers",
		"csiDrivers", "sysctls", "seccompProfiles", "appArmorProfiles", "seLinuxOptions", "procMountTypes", "probeHosts"} {
		if slices.Contains(names(rs), unwanted) {
			t.Errorf("widened profile: %s restriction", unwanted)
		}
	}
	if len(vars) != 0 {
		t.Errorf("widened profile: variables %v", vars)
	}
	// Any volume type but the learned CSI drivers: those stay limited.
	p = attributes.Profile{AnyValue: attributes.AnyVolumeTypes, CSIDrivers: []string{"a.csi"}}
	if rs, _ := restrictions(p); !slices.Contains(names(rs), "csiDrivers") || slices.Contains(names(rs), "volumeTypes") {
		t.Errorf("any volume type: restrictions %v", names(rs))
	}
}

// TestWidenedPSP: PSP writes its wildcard, or leaves the list empty where empty allows any.
func TestWidenedPSP(t *testing.T) {
	u := &unit{Name: "x", Profile: attributes.Profile{AnyValue: ^attributes.Fields(0), VolumeTypes: []string{"hostPath"}}}
	got := psp(u)
	s := got.Spec
	if !slices.Equal(s.AllowedCapabilities, []string{"*"}) || !slices.Equal(s.Volumes, []string{"*"}) ||
		!slices.Equal(s.AllowedUnsafeSysctls, []string{"*"}) || len(s.AllowedProcMountTypes) != 2 ||
		s.AllowedHostPaths != nil || s.AllowedFlexVolumes != nil || s.AllowedCSIDrivers != nil || s.SELinux.Rule != "RunAsAny" {
		t.Errorf("widened PSP spec: %+v", s)
	}
	if a := got.Metadata.Annotations; a[pspSeccompAllowed] != "*" || a[pspAppArmorAllowed] != "" {
		t.Errorf("widened PSP annotations: %v", a)
	}
}

func TestVolumeSourcesFromAPI(t *testing.T) {
	for _, want := range []string{"hostPath", "configMap", "projected", "csi", "ephemeral", "image"} {
		if !slices.Contains(volumeSources, want) {
			t.Errorf("volume type %s missing from %v", want, volumeSources)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":      `'plain'`,
		`it's`:       `'it\'s'`,
		`back\slash`: `'back\\slash'`,
		"line\nbr":   `'line\x0abr'`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestMessageHasNoLineBreak(t *testing.T) {
	u := &unit{Namespace: "web", Workloads: make([]evidence, 2)}
	rs, _ := restrictions(attributes.Profile{ProbeHosts: []string{"evil\nhost"}})
	for _, r := range rs {
		if m := r.message(u); strings.ContainsAny(m, "\r\n") {
			t.Errorf("%s: message with line break: %q", r.name, m)
		}
	}
}

func TestEmptyAggregate(t *testing.T) {
	for _, f := range Formats {
		got := render(t, nil, Options{Format: f})
		if f == FormatReport || f == FormatAggregate {
			continue
		}
		for _, doc := range documents(t, got) {
			t.Errorf("%s: document from an empty aggregate: %s", f, doc)
		}
	}
}
