package intern

import (
	"slices"
	"testing"
)

func TestTable(t *testing.T) {
	tab := Table[[]string]{Max: 2, Equal: slices.Equal[[]string]}
	a, b := []string{"a"}, []string{"a"}
	if got := tab.Get(1, a); &got[0] != &a[0] {
		t.Fatal("first value not stored")
	}
	if got := tab.Get(1, b); &got[0] != &a[0] {
		t.Error("an equal value is not shared")
	}
	if other := []string{"z"}; &tab.Get(1, other)[0] != &other[0] {
		t.Error("a colliding value was given another's")
	}
	tab.Get(2, []string{"b"})
	tab.Get(3, []string{"c"}) // full: starts over
	if len(tab.m) != 1 {
		t.Errorf("%d entries with Max 2", len(tab.m))
	}
	var h1, h2, h3 Hash
	h1.Strings("ab", "c")
	h2.Strings("a", "bc")
	h3.Strings("ab", "c")
	if h1.Sum() == h2.Sum() || h1.Sum() != h3.Sum() {
		t.Error("hash does not tell the parts apart, or is not stable")
	}
}
