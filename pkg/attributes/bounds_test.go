package attributes

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/pod-security-advisor/pod-security-advisor/internal/hostile"
	"github.com/pod-security-advisor/pod-security-advisor/internal/jsonsize"
)

// checkBounds fails unless every attribute of p is within its bound, and every attribute
// widened to any value holds no list.
func checkBounds(t *testing.T, p Profile) {
	t.Helper()
	sets := map[Fields]int{ // values of each set, -1 where the bytes are over
		AnyAddedCapabilities: stringsCost(p.AddedCapabilities), AnyVolumeTypes: stringsCost(p.VolumeTypes),
		AnyFlexVolumeDrivers: stringsCost(p.FlexVolumeDrivers), AnyCSIDrivers: stringsCost(p.CSIDrivers),
		AnySysctls: stringsCost(p.Sysctls), AnySeccompProfiles: stringsCost(p.SeccompProfiles),
		AnyAppArmorProfiles: stringsCost(p.AppArmorProfiles), AnyProcMountTypes: stringsCost(p.ProcMountTypes),
		AnyProbeHosts:     stringsCost(p.ProbeHosts),
		AnyHostPaths:      cost(p.HostPaths, func(h HostPath) int { return jsonsize.Len(h.Path) }),
		AnySELinuxOptions: cost(p.SELinuxOptions, SELinux.jsonLen),
	}
	for f, n := range sets {
		if n < 0 || n > MaxValues || p.AnyValue.Has(f) && n != 0 {
			t.Fatalf("%v: %d values (any value: %t)", f.Names(), n, p.AnyValue.Has(f))
		}
	}
	for name, rs := range map[string]Ranges{"runAsUser": p.RunAsUser.Values, "runAsGroup": p.RunAsGroup.Values,
		"fsGroup": p.FSGroup.Values, "supplementalGroups": p.SupplementalGroups, "hostPorts": p.HostPorts} {
		if len(rs) > MaxRanges {
			t.Fatalf("%s: %d ranges", name, len(rs))
		}
	}
}

func stringsCost(values []string) int { return cost(values, jsonsize.Len) }

// cost is the number of values, or -1 when their JSON bytes are over MaxValueBytes.
func cost[T any](values []T, size func(T) int) int {
	n := 0
	for _, v := range values {
		n += size(v)
	}
	if n > MaxValueBytes {
		return -1
	}
	return len(values)
}

// TestRangesBound: a set of at most MaxRanges values is kept as it is; a larger one is rounded
// out to at most MaxRanges aligned blocks that hold every value.
func TestRangesBound(t *testing.T) {
	var few, many Ranges
	for i := range int64(MaxRanges) {
		few = few.Add(1000 + 7*i)
	}
	if len(few) != MaxRanges || few[0] != (Range{1000, 1000}) || few.RoundedTo() != 0 {
		t.Fatalf("a set of %d values was changed: %v", MaxRanges, few)
	}
	var values []int64
	for i := range int64(1000) {
		v := 1000 + 7*i
		values = append(values, v)
		many = many.Add(v)
	}
	if len(many) > MaxRanges {
		t.Fatalf("%d ranges", len(many))
	}
	for _, v := range values {
		if !contains(many, v) {
			t.Fatalf("value %d dropped: %v", v, many)
		}
	}
	j := many.RoundedTo()
	if j == 0 || many[0].Min%(1<<j) != 0 {
		t.Fatalf("rounded to 2^%d: %v", j, many)
	}
	if got := (Ranges{{5, 5}}).Join(many); !reflect.DeepEqual(got, Ranges{{0, 7}}.Join(many)) {
		t.Errorf("a new value in a rounded set is not rounded the same way: %v", got)
	}
	all := Ranges{{math.MinInt64, math.MaxInt64}}
	if got := all.Join(many); !reflect.DeepEqual(got, all) {
		t.Errorf("everything joined with a set = %v", got)
	}
	// A contiguous run of values is one range and needs no rounding beyond its ends.
	var run Ranges
	for v := range int64(4096) {
		run = run.Add(v)
	}
	if !reflect.DeepEqual(run, Ranges{{0, 4095}}) {
		t.Errorf("a run of 4096 values = %v", run)
	}
}

// TestWidenedToAnyValue: a set past its bound becomes any value, which keeps absorbing
// values, survives JSON and is never narrowed by a join.
func TestWidenedToAnyValue(t *testing.T) {
	var p Profile
	for i := range MaxValues {
		p = Join(p, Profile{Sysctls: []string{fmt.Sprintf("net.a%d", i)}})
	}
	if p.AnyValue != 0 || len(p.Sysctls) != MaxValues {
		t.Fatalf("%d sysctls should fit: %v", MaxValues, p.AnyValue.Names())
	}
	p = Join(p, Profile{Sysctls: []string{"net.z"}})
	if !p.AnyValue.Has(AnySysctls) || p.Sysctls != nil {
		t.Fatalf("past the bound: any %v, %d sysctls", p.AnyValue.Names(), len(p.Sysctls))
	}
	if q := Join(p, Profile{Sysctls: []string{"kernel.x"}}); !reflect.DeepEqual(q, p) {
		t.Errorf("any value grew: %+v", q)
	}
	long := Profile{HostPaths: HostPaths{{Path: "/" + strings.Repeat("\x01", MaxValueBytes/6)}}}
	if got := Join(Profile{}, long); !got.AnyValue.Has(AnyHostPaths) || got.HostPaths != nil {
		t.Errorf("a host path of %d JSON bytes was kept", jsonsize.Len(long.HostPaths[0].Path))
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"anyValue":["sysctls"]`) {
		t.Errorf("JSON does not name the widened attribute: %s", data)
	}
	var back Profile
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, p) {
		t.Errorf("JSON round trip: %v %+v", err, back)
	}
	// A profile stored beyond the bounds (or unsorted) is brought within them as it is read.
	if err := json.Unmarshal([]byte(`{"sysctls":["b","a","a"],"runAsUser":{"values":[{"min":9,"max":9},{"min":1,"max":2}]}}`), &back); err != nil ||
		!reflect.DeepEqual(back.Sysctls, []string{"a", "b"}) || !reflect.DeepEqual(back.RunAsUser.Values, Ranges{{1, 2}, {9, 9}}) {
		t.Errorf("stored profile not made canonical: %v %+v", err, back)
	}
	var stored strings.Builder
	stored.WriteString(`{"probeHosts":[`)
	for i := range MaxValues + 1 {
		fmt.Fprintf(&stored, "%q,", fmt.Sprint("h", i))
	}
	stored.WriteString(`"h"]}`)
	if err := json.Unmarshal([]byte(stored.String()), &back); err != nil || !back.AnyValue.Has(AnyProbeHosts) || back.ProbeHosts != nil {
		t.Errorf("stored profile beyond the bounds not widened: %v %+v", err, back)
	}
	if err := json.Unmarshal([]byte(`{"anyValue":["sysctls","futureField"]}`), &back); err == nil {
		t.Error("an unknown widened attribute was accepted (and its allowance dropped)")
	}
}

// TestWorstCasePod: the profile of the worst-case pod is within the bounds, allows the pod
// (every attribute of it either holds the pod's values or is any value), and its JSON is far
// below what one state shard holds.
func TestWorstCasePod(t *testing.T) {
	pod := hostile.Pod(0, 100, 4000)
	p := Observe(pod)
	checkBounds(t, p)
	want := AnyAddedCapabilities | AnyHostPaths | AnyFlexVolumeDrivers | AnyCSIDrivers | AnySysctls |
		AnySeccompProfiles | AnyAppArmorProfiles | AnySELinuxOptions | AnyProbeHosts
	if p.AnyValue != want {
		t.Errorf("widened %v, want %v", p.AnyValue.Names(), want.Names())
	}
	for i, c := range pod.Spec.Containers {
		sc := c.SecurityContext
		if !contains(p.RunAsUser.Values, *sc.RunAsUser) || !contains(p.RunAsGroup.Values, *sc.RunAsGroup) ||
			!contains(p.HostPorts, int64(c.Ports[0].HostPort)) || !contains(p.SupplementalGroups, pod.Spec.SecurityContext.SupplementalGroups[i]) {
			t.Fatalf("container %d: an ID or port was dropped", i)
		}
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > MaxProfileJSON {
		t.Errorf("profile JSON is %d bytes, over the bound of %d", len(data), MaxProfileJSON)
	}
	t.Logf("worst-case pod: profile JSON %d bytes (bound %d)", len(data), MaxProfileJSON)

	// The largest profile within the bounds: every set at its bound without being widened.
	var full Profile
	fill := func(n int, unit string) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("%02d%s", i, unit))
		}
		return out
	}
	name := strings.Repeat("x", MaxValueBytes/MaxValues-4)
	vals := fill(MaxValues, name)
	full.AddedCapabilities, full.VolumeTypes, full.FlexVolumeDrivers, full.CSIDrivers = vals, vals, vals, vals
	full.Sysctls, full.SeccompProfiles, full.AppArmorProfiles, full.ProcMountTypes, full.ProbeHosts = vals, vals, vals, vals, vals
	for _, v := range vals {
		full.HostPaths = append(full.HostPaths, HostPath{Path: v})
	}
	quarter := fill(MaxValues, strings.Repeat("y", MaxValueBytes/MaxValues/4-4))
	for _, v := range quarter {
		full.SELinuxOptions = append(full.SELinuxOptions, SELinux{v, v, v, v})
	}
	var rs Ranges
	for i := range int64(MaxRanges) {
		rs = append(rs, Range{math.MinInt64 + 2*i, math.MinInt64 + 2*i})
	}
	full.RunAsUser.Values, full.RunAsGroup.Values, full.FSGroup.Values, full.SupplementalGroups, full.HostPorts = rs, rs, rs, rs, rs
	if got := Join(Profile{}, full); !reflect.DeepEqual(got, full) {
		t.Fatal("the largest profile within the bounds is not within the bounds")
	}
	data, _ = json.Marshal(full)
	if len(data) > MaxProfileJSON {
		t.Errorf("the largest profile within the bounds is %d bytes of JSON, over the bound of %d", len(data), MaxProfileJSON)
	}
	t.Logf("largest profile within the bounds: %d bytes of JSON (bound %d)", len(data), MaxProfileJSON)
	if slices.Contains(full.AnyValue.Names(), "") {
		t.Fatal("unnamed field")
	}
}

// BenchmarkObserveWorstCase observes the worst-case pod with 20,000 sysctls and supplemental
// groups more: observing is n log n in the values of a pod, so one hostile pod costs
// milliseconds, not seconds, of the admission path.
func BenchmarkObserveWorstCase(b *testing.B) {
	pod := hostile.Pod(0, 100, 4000)
	for i := range 20_000 {
		pod.Spec.SecurityContext.Sysctls = append(pod.Spec.SecurityContext.Sysctls, corev1.Sysctl{Name: fmt.Sprintf("kernel.y%d", i)})
		pod.Spec.SecurityContext.SupplementalGroups = append(pod.Spec.SecurityContext.SupplementalGroups, int64(1_000_000-3*i))
	}
	b.ReportAllocs()
	for b.Loop() {
		Observe(pod)
	}
}

// TestShared: equal profiles share one value, different ones do not, and sharing changes no
// profile.
func TestShared(t *testing.T) {
	for seed := range uint64(300) {
		g := newGen(seed)
		a, b := g.big(), g.big()
		sa, sb, again := Shared(a), Shared(b), Shared(Join(Profile{}, a))
		mustEqual(t, "shared a", *sa, a)
		mustEqual(t, "shared b", *sb, b)
		if sa != again {
			t.Fatalf("seed %d: equal profiles not shared", seed)
		}
		if (sa == sb) != reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: profiles shared %t, equal %t", seed, sa == sb, reflect.DeepEqual(a, b))
		}
	}
}
