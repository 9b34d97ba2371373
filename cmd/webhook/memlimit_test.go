package main

import (
	"runtime/debug"
	"testing"
)

func TestSetMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	t.Setenv("GOMEMLIMIT", "")
	for _, tc := range []struct {
		limit string
		want  int64
		err   bool
	}{
		{"", 0, false},
		{"536870912", 483183820, false}, // the downward API gives bytes
		{"512Mi", 483183820, false},
		{"0", 0, false},
		{"lots", 0, true},
	} {
		got, err := setMemoryLimit(tc.limit)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("setMemoryLimit(%q) = %d, %v; want %d (error %v)", tc.limit, got, err, tc.want, tc.err)
		}
		if tc.want > 0 && debug.SetMemoryLimit(-1) != tc.want {
			t.Errorf("setMemoryLimit(%q): runtime limit not set", tc.limit)
		}
	}
	t.Setenv("GOMEMLIMIT", "100MiB")
	if got, _ := setMemoryLimit("512Mi"); got != 0 {
		t.Errorf("with GOMEMLIMIT set, setMemoryLimit = %d, want 0 (GOMEMLIMIT wins)", got)
	}
}
