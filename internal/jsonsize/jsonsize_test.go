package jsonsize

import (
	"encoding/json"
	"strings"
	"testing"
)

func FuzzLen(f *testing.F) {
	for _, s := range []string{"", "a", `"\`, "\b\f\n\r\t\x00\x1f", "<>&", "\u2028\u2029", "\xff\xfe", "é€😀", strings.Repeat("x", 300)} {
		f.Add(s, 64)
	}
	f.Fuzz(func(t *testing.T, s string, limit int) {
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := Len(s); got != len(data) {
			t.Fatalf("Len(%q) = %d, encoding/json writes %d bytes", s, got, len(data))
		}
		limit = 64 + limit%1024
		if limit < 64 {
			limit += 1024
		}
		cut := Truncate(s, limit)
		if Len(cut) > limit {
			t.Fatalf("Truncate(%q, %d) is %d bytes", s, limit, Len(cut))
		}
		if Len(s) <= limit && cut != s {
			t.Fatalf("Truncate changed a value within the limit")
		}
		if cut != s && !strings.HasPrefix(s, cut[:strings.LastIndex(cut, "…(")]) {
			t.Fatalf("Truncate(%q) = %q is not a prefix of the value and a suffix", s, cut)
		}
	})
}

// TestTruncateKeepsValuesApart: two long values that share their kept prefix stay distinct.
func TestTruncateKeepsValuesApart(t *testing.T) {
	a, b := strings.Repeat("x", 500)+"a", strings.Repeat("x", 500)+"b"
	if Truncate(a, 256) == Truncate(b, 256) {
		t.Fatal("distinct values truncated to the same string")
	}
	if !strings.Contains(Truncate(a, 256), "(501 bytes,") {
		t.Fatalf("truncated value does not say how long it was: %q", Truncate(a, 256))
	}
}
