package render

import (
	"math"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

func gatekeeperKinds(docs []gkDoc) []string {
	var kinds []string
	for _, d := range docs {
		kinds = append(kinds, d.obj.Kind)
	}
	return kinds
}

// TestGatekeeperOnlyRestricting: a profile that allows everything the templates can restrict
// gets no constraint, and the minimal profile one per template.
func TestGatekeeperOnlyRestricting(t *testing.T) {
	all := attributes.IDs{Values: attributes.Ranges{{Min: 0, Max: math.MaxInt32}}, Unset: true}
	anything := attributes.Profile{
		HostNetwork: true, HostPID: true, HostIPC: true, HostUsers: true, Privileged: true, AllowPrivilegeEscalation: true,
		KeepsDefaultCapabilities: true, WritableRootFilesystem: true, MayRunAsRoot: true,
		RunAsUser: all, RunAsGroup: all, FSGroup: all, SupplementalGroups: all.Values,
		HostPorts: attributes.Ranges{{Min: 1, Max: math.MaxUint16}}, ProcMountTypes: []string{"Default", "Unmasked"},
		WindowsHostProcess: true,
		AnyValue: attributes.AnyAddedCapabilities | attributes.AnyVolumeTypes | attributes.AnyHostPaths | attributes.AnyFlexVolumeDrivers |
			attributes.AnySysctls | attributes.AnySeccompProfiles | attributes.AnyAppArmorProfiles | attributes.AnySELinuxOptions | attributes.AnyProbeHosts,
	}
	if docs, _ := gatekeeper(&unit{Name: "x", Profile: anything}, false); len(docs) > 0 {
		t.Errorf("a profile allowing everything got constraints %v", gatekeeperKinds(docs))
	}
	minimal := attributes.Profile{RunAsUser: attributes.IDs{Values: attributes.Ranges{{Min: 1000, Max: 1000}}},
		SeccompProfiles: []string{"RuntimeDefault"}, AppArmorProfiles: []string{attributes.ProfileUnset}}
	docs, notes := gatekeeper(&unit{Name: "x", Profile: minimal}, true)
	want := []string{gkHostNetworkingPorts, gkHostNamespace, gkPrivileged, gkAllowPrivilegeEscalation, gkCapabilities, gkReadOnlyRootFilesystem,
		gkAllowedUsers, gkVolumeTypes, gkForbiddenSysctls, gkSeccomp, gkAppArmor, gkSELinux, gkProcMount, gkHostProcess, gkHostProbesLifecycle}
	if got := gatekeeperKinds(docs); !slices.Equal(got, want) || len(notes) > 0 {
		t.Errorf("minimal profile: got %v (notes %v), want %v", got, notes, want)
	}
	for _, d := range docs {
		if d.obj.Spec.EnforcementAction != gkDeny || d.obj.Spec.Match.Namespaces != nil {
			t.Errorf("%s: enforcementAction %q, namespaces %v; want deny, none (cluster)", d.obj.Kind, d.obj.Spec.EnforcementAction, d.obj.Spec.Match.Namespaces)
		}
	}
}

// TestGatekeeperLooser: what the templates cannot say is said in a comment.
func TestGatekeeperLooser(t *testing.T) {
	p := attributes.Profile{
		HostPorts: attributes.Ranges{{Min: 80, Max: 80}, {Min: 443, Max: 443}},
		RunAsUser: attributes.IDs{Values: attributes.Ranges{{Min: 1000, Max: 1000}}, Unset: true},
	}
	docs, _ := gatekeeper(&unit{Name: "x", Namespace: "web", Profile: p}, false)
	comments := map[string]string{}
	for _, d := range docs {
		comments[d.obj.Kind] = strings.Join(d.comments, "\n")
		if d.obj.Kind == gkHostNetworkingPorts && (d.obj.Spec.Parameters["min"] != int64(80) || d.obj.Spec.Parameters["max"] != int64(443)) {
			t.Errorf("host ports: %v, want the hull 80-443", d.obj.Spec.Parameters)
		}
	}
	if !strings.Contains(comments[gkHostNetworkingPorts], "admits 80-443; learned: 80, 443") {
		t.Errorf("host ports comment: %q", comments[gkHostNetworkingPorts])
	}
	if !strings.Contains(comments[gkAllowedUsers], "runAsUser may be any non-root ID; learned: set to 1000 or unset") {
		t.Errorf("users comment: %q", comments[gkAllowedUsers])
	}
}

// TestGatekeeperNames: names stay within Gatekeeper's 63 characters, valid and distinct.
func TestGatekeeperNames(t *testing.T) {
	seen := map[string]bool{}
	for _, u := range []*unit{{Name: "pod-security-advisor-web", Namespace: "web"}, {Name: namePrefix + strings.Repeat("a", 63), Namespace: strings.Repeat("a", 63)}} {
		for _, kind := range []string{gkPrivileged, gkAllowPrivilegeEscalation, gkSELinux} {
			name := gkName(u, kind)
			if len(name) > gkMaxNameLength || len(validation.IsDNS1123Subdomain(name)) > 0 || seen[name] {
				t.Errorf("%s %s: name %q is too long, invalid or not unique", u.Name, kind, name)
			}
			seen[name] = true
		}
	}
	if got := gkName(&unit{Name: "pod-security-advisor-web"}, gkSELinux); got != "pod-security-advisor-web-k8spspselinuxv2" {
		t.Errorf("short name: got %q", got)
	}
}
