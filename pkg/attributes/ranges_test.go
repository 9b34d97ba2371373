package attributes

import (
	"math"
	"reflect"
	"testing"
)

func TestRangesAdd(t *testing.T) {
	for _, tc := range []struct {
		name string
		add  []int64
		want Ranges
		str  string
	}{
		{"empty", nil, nil, ""},
		{"one", []int64{1000}, Ranges{{1000, 1000}}, "1000"},
		{"adjacent merge", []int64{1000, 1001}, Ranges{{1000, 1001}}, "1000-1001"},
		{"adjacent merge downwards", []int64{1001, 1000}, Ranges{{1000, 1001}}, "1000-1001"},
		{"gap kept", []int64{1000, 1002}, Ranges{{1000, 1000}, {1002, 1002}}, "1000,1002"},
		{"gap filled", []int64{1000, 1002, 1001}, Ranges{{1000, 1002}}, "1000-1002"},
		{"duplicates", []int64{5, 5, 5}, Ranges{{5, 5}}, "5"},
		{"unsorted", []int64{30, 10, 20, 11, 0}, Ranges{{0, 0}, {10, 11}, {20, 20}, {30, 30}}, "0,10-11,20,30"},
		{"negative", []int64{-1, 0, 1}, Ranges{{-1, 1}}, "-1-1"},
		{"extremes", []int64{math.MaxInt64, math.MinInt64, math.MaxInt64}, Ranges{{math.MinInt64, math.MinInt64}, {math.MaxInt64, math.MaxInt64}},
			"-9223372036854775808,9223372036854775807"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rs Ranges
			for _, v := range tc.add {
				rs = rs.Add(v)
			}
			if !reflect.DeepEqual(rs, tc.want) {
				t.Errorf("got %v, want %v", rs, tc.want)
			}
			if s := rs.String(); s != tc.str {
				t.Errorf("String() = %q, want %q", s, tc.str)
			}
		})
	}
}

func TestRangesJoin(t *testing.T) {
	for _, tc := range []struct {
		name    string
		a, b    Ranges
		want    Ranges
		wantStr string
	}{
		{"both empty", nil, Ranges{}, nil, ""},
		{"one empty", Ranges{{1, 2}}, nil, Ranges{{1, 2}}, "1-2"},
		{"disjoint", Ranges{{10, 20}}, Ranges{{1, 2}}, Ranges{{1, 2}, {10, 20}}, "1-2,10-20"},
		{"adjacent", Ranges{{1, 2}}, Ranges{{3, 4}}, Ranges{{1, 4}}, "1-4"},
		{"overlapping", Ranges{{1, 5}}, Ranges{{3, 8}}, Ranges{{1, 8}}, "1-8"},
		{"contained", Ranges{{1, 10}}, Ranges{{3, 4}}, Ranges{{1, 10}}, "1-10"},
		{"bridging", Ranges{{1, 2}, {6, 7}}, Ranges{{3, 5}}, Ranges{{1, 7}}, "1-7"},
		{"same start", Ranges{{1, 9}}, Ranges{{1, 2}}, Ranges{{1, 9}}, "1-9"},
		{"top of int64", Ranges{{math.MaxInt64 - 1, math.MaxInt64}}, Ranges{{math.MaxInt64, math.MaxInt64}},
			Ranges{{math.MaxInt64 - 1, math.MaxInt64}}, "9223372036854775806-9223372036854775807"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, got := range []Ranges{tc.a.Join(tc.b), tc.b.Join(tc.a)} {
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got %v, want %v", got, tc.want)
				}
				if got.String() != tc.wantStr {
					t.Errorf("String() = %q, want %q", got.String(), tc.wantStr)
				}
			}
		})
	}
}

func TestRangesJoinDoesNotAlias(t *testing.T) {
	a := make(Ranges, 1, 4)
	a[0] = Range{1, 1}
	_ = a.Join(Ranges{{0, 5}})
	if a[0] != (Range{1, 1}) {
		t.Errorf("Join modified its receiver: %v", a)
	}
}

func TestRangesContains(t *testing.T) {
	rs := Ranges{{1, 3}, {10, 10}}
	for v, want := range map[int64]bool{0: false, 1: true, 2: true, 3: true, 4: false, 9: false, 10: true, 11: false} {
		if got := contains(rs, v); got != want {
			t.Errorf("Contains(%d) = %v, want %v", v, got, want)
		}
	}
	if contains(Ranges(nil), 0) {
		t.Error("empty set contains 0")
	}
}

func TestIDsJoin(t *testing.T) {
	a := IDs{Values: Ranges{{1000, 1000}}}
	b := IDs{Values: Ranges{{1001, 1001}}, Unset: true}
	want := IDs{Values: Ranges{{1000, 1001}}, Unset: true}
	if got := a.Join(b); !reflect.DeepEqual(got, want) {
		t.Errorf("a.Join(b) = %+v, want %+v", got, want)
	}
	if got := a.Join(IDs{}); !reflect.DeepEqual(got, a) {
		t.Errorf("a.Join(zero) = %+v, want %+v", got, a)
	}
	if got := (IDs{}).Join(IDs{}); !reflect.DeepEqual(got, IDs{}) {
		t.Errorf("zero.Join(zero) = %+v", got)
	}
}

func TestHostPathsJoin(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b HostPaths
		want HostPaths
	}{
		{"both empty", nil, HostPaths{}, nil},
		{"one empty", HostPaths{{"/a", true}}, nil, HostPaths{{"/a", true}}},
		{"read-only in both", HostPaths{{"/a", true}}, HostPaths{{"/a", true}}, HostPaths{{"/a", true}}},
		{"writable in one", HostPaths{{"/a", true}}, HostPaths{{"/a", false}}, HostPaths{{"/a", false}}},
		{"writable in both", HostPaths{{"/a", false}}, HostPaths{{"/a", false}}, HostPaths{{"/a", false}}},
		{"distinct paths sorted", HostPaths{{"/c", true}, {"/d", false}}, HostPaths{{"/a", false}, {"/c", false}},
			HostPaths{{"/a", false}, {"/c", false}, {"/d", false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, got := range []HostPaths{tc.a.Join(tc.b), tc.b.Join(tc.a)} {
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestUnionAndAdd(t *testing.T) {
	if got := union(nil, []string{}); got != nil {
		t.Errorf("union of empties = %#v, want nil", got)
	}
	if got, want := union([]string{"a", "c"}, []string{"b", "c", "d"}), []string{"a", "b", "c", "d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("union = %v, want %v", got, want)
	}
	a := []string{"a", "c"}
	_ = union(a[:1], []string{"b"})
	if a[1] != "c" {
		t.Errorf("union wrote into its argument: %v", a)
	}
	if got, want := union(nil, []string{"m", "a", "z", "a", "m"}), []string{"a", "m", "z"}; !reflect.DeepEqual(got, want) {
		t.Errorf("union of an unsorted list = %v, want %v", got, want)
	}
}

func TestJoinSELinux(t *testing.T) {
	// Fields may hold colons, so two option sets can print alike; the order must still be total.
	x := SELinux{User: "a:b"}
	y := SELinux{User: "a", Role: "b:"}
	if x.String() != y.String() {
		t.Fatalf("test premise: %q != %q", x, y)
	}
	want := joinSELinux(nil, []SELinux{x, y})
	for _, got := range [][]SELinux{joinSELinux(nil, []SELinux{y, x}), joinSELinux([]SELinux{y}, []SELinux{x, y}), joinSELinux(want, want)} {
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	}
	if len(want) != 2 {
		t.Errorf("got %v, want both option sets", want)
	}
}
