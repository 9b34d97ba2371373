package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestObserveCapabilities(t *testing.T) {
	type caps struct {
		Added []string
		Keeps bool
	}
	with := func(add, drop []corev1.Capability) *csc {
		return &csc{Capabilities: &corev1.Capabilities{Add: add, Drop: drop}}
	}
	all := []corev1.Capability{"ALL"}
	runObserve(t, func(p Profile) caps { return caps{p.AddedCapabilities, p.KeepsDefaultCapabilities} }, []observeCase[caps]{
		{"no containers", pod(corev1.PodSpec{}), caps{}},
		{"no security context keeps defaults", one(nil, nil), caps{Keeps: true}},
		{"empty capabilities keep defaults", one(nil, with(nil, nil)), caps{Keeps: true}},
		{"drop ALL", one(nil, with(nil, all)), caps{}},
		{"drop all in lower case", one(nil, with(nil, []corev1.Capability{"all"})), caps{}},
		{"drop some keeps the rest", one(nil, with(nil, []corev1.Capability{"NET_RAW", "CHOWN"})), caps{Keeps: true}},
		{"add normalised and deduplicated", one(nil, with([]corev1.Capability{"cap_net_admin", "NET_ADMIN", "Sys_Time", " CAP_CHOWN "}, all)),
			caps{Added: []string{"CHOWN", "NET_ADMIN", "SYS_TIME"}}},
		{"drop ALL add back", one(nil, with([]corev1.Capability{"NET_BIND_SERVICE"}, all)), caps{Added: []string{"NET_BIND_SERVICE"}}},
		{"one container keeps defaults", pod(corev1.PodSpec{Containers: []corev1.Container{
			ctr("a", with(nil, all)), ctr("b", &csc{RunAsUser: ptr.To[int64](1)}),
		}}), caps{Keeps: true}},
		{"added by two containers", pod(corev1.PodSpec{Containers: []corev1.Container{
			ctr("a", with([]corev1.Capability{"SYS_PTRACE"}, all)), ctr("b", with([]corev1.Capability{"NET_ADMIN"}, all)),
		}}), caps{Added: []string{"NET_ADMIN", "SYS_PTRACE"}}},
		{"init container", pod(corev1.PodSpec{
			InitContainers: []corev1.Container{ctr("init", with([]corev1.Capability{"NET_ADMIN"}, nil))},
			Containers:     []corev1.Container{ctr("app", with(nil, all))},
		}), caps{Added: []string{"NET_ADMIN"}, Keeps: true}},
		{"ephemeral container", pod(corev1.PodSpec{
			Containers:          []corev1.Container{ctr("app", with(nil, all))},
			EphemeralContainers: []corev1.EphemeralContainer{eph(ctr("debug", with([]corev1.Capability{"SYS_PTRACE"}, all)))},
		}), caps{Added: []string{"SYS_PTRACE"}}},
	})
}

func TestNormalizeCapability(t *testing.T) {
	for in, want := range map[corev1.Capability]string{
		"NET_ADMIN":      "NET_ADMIN",
		"net_admin":      "NET_ADMIN",
		"CAP_NET_ADMIN":  "NET_ADMIN",
		"cap_net_admin":  "NET_ADMIN",
		" Cap_Sys_Time ": "SYS_TIME",
		"all":            "ALL",
	} {
		if got := NormalizeCapability(in); got != want {
			t.Errorf("NormalizeCapability(%q) = %q, want %q", in, got, want)
		}
	}
}
