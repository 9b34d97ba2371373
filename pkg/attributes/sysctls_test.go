package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestObserveSysctls(t *testing.T) {
	runObserve(t, func(p Profile) []string { return p.Sysctls }, []observeCase[[]string]{
		{"no security context", one(nil, nil), nil},
		{"no sysctls", one(&psc{}, nil), nil},
		{"names sorted and deduplicated, values ignored", one(&psc{Sysctls: []corev1.Sysctl{
			{Name: "net.ipv4.tcp_syncookies", Value: "1"}, {Name: "kernel.shm_rmid_forced", Value: "0"}, {Name: "net.ipv4.tcp_syncookies", Value: "0"},
		}}, nil), []string{"kernel.shm_rmid_forced", "net.ipv4.tcp_syncookies"}},
	})
}
