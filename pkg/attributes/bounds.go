package attributes

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/pod-security-advisor/pod-security-advisor/internal/jsonsize"
)

// Bounds of one profile. A pod decides how many values an attribute has, and API validation
// (k8s.io/kubernetes pkg/apis/core/validation, 1.37) bounds few of them: the number of values
// in a pod only by the object's size, never across pods; and the length of a value only for
// CSI drivers (63), sysctl names (253), AppArmor localhost profiles (4095), UIDs and GIDs
// (0..2^31-1) and ports (0..65535). Capabilities, host paths, flexVolume drivers, seccomp
// localhost profiles, SELinux options and probe hosts may be of any length; volume types and
// procMount types are enumerations. One record must not grow without bound, so Join widens an
// attribute past its bound instead of growing it:
//   - a set of names or paths with more than MaxValues values, or whose values take more than
//     MaxValueBytes of JSON together, becomes "any value" (its bit in Profile.AnyValue);
//   - a set of IDs or ports of more than MaxRanges ranges is rounded out to aligned blocks of a
//     power-of-two size, the smallest that leaves at most MaxRanges blocks.
//
// Both are closure operators (the result allows more, widening twice changes nothing, and a
// larger input never widens to less), so a join that widens is still commutative, associative
// and idempotent, and a pod that was learned is always allowed: nothing is dropped.
//
// MaxProfileJSON bounds the JSON of a profile within these bounds: every flag set, nine sets of
// names at MaxValueBytes, host paths and SELinux options at MaxValueBytes with their per-value
// structure, and five ID or port sets of MaxRanges ranges of 20-digit numbers.
const (
	MaxValues      = 64
	MaxValueBytes  = 2048
	MaxRanges      = 32
	MaxProfileJSON = 1024 + 9*(MaxValueBytes+MaxValues+32) + // flags and anyValue; sets of names
		(MaxValueBytes + MaxValues*len(`{"path":,"readOnly":false},`) + 32) +
		(MaxValueBytes + MaxValues*len(`{"user":,"role":,"type":,"level":},`) + 32) +
		5*(MaxRanges*len(`{"min":-9223372036854775808,"max":-9223372036854775808},`)+48)
)

// Fields is a set of the set-valued Profile attributes, by their JSON names.
type Fields uint32

// The attributes that can be widened to any value.
const (
	AnyAddedCapabilities Fields = 1 << iota
	AnyVolumeTypes
	AnyHostPaths
	AnyFlexVolumeDrivers
	AnyCSIDrivers
	AnySysctls
	AnySeccompProfiles
	AnyAppArmorProfiles
	AnySELinuxOptions
	AnyProcMountTypes
	AnyProbeHosts
	numFields = iota
)

// fieldNames are the JSON names of the Profile fields, in bit order.
var fieldNames = [numFields]string{
	"addedCapabilities", "volumeTypes", "hostPaths", "flexVolumeDrivers", "csiDrivers", "sysctls",
	"seccompProfiles", "appArmorProfiles", "seLinuxOptions", "procMountTypes", "probeHosts",
}

// Has reports whether every field of g is in f.
func (f Fields) Has(g Fields) bool { return f&g == g }

// Names returns the JSON names of the fields in f, sorted.
func (f Fields) Names() []string {
	var out []string
	for i, name := range fieldNames {
		if f&(1<<i) != 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// MarshalJSON writes the field names, so that the state reads as the profile does.
func (f Fields) MarshalJSON() ([]byte, error) { return json.Marshal(f.Names()) }

// UnmarshalJSON refuses names it does not know: ignoring one would drop an allowance.
func (f *Fields) UnmarshalJSON(data []byte) error {
	var names []string
	if err := json.Unmarshal(data, &names); err != nil {
		return err
	}
	*f = 0
	for _, n := range names {
		i := slices.Index(fieldNames[:], n)
		if i < 0 {
			return fmt.Errorf("anyValue: unknown attribute %q", n)
		}
		*f |= 1 << i
	}
	return nil
}

// widen accumulates the fields a join widened to any value.
type widen struct{ any Fields }

// strings joins a set of names unless f is already any value, and widens it past its bound.
func (w *widen) strings(f Fields, a, b []string) []string {
	if w.any.Has(f) {
		return nil
	}
	u := union(a, b)
	if len(u) == len(a) { // union returned a: nothing new, and a is within bounds
		return u
	}
	if len(u) > MaxValues || jsonBytes(u, func(s string) int { return jsonsize.Len(s) }) > MaxValueBytes {
		w.any |= f
		return nil
	}
	return u
}

func (w *widen) hostPaths(a, b HostPaths) HostPaths {
	if w.any.Has(AnyHostPaths) {
		return nil
	}
	u := a.Join(b)
	if len(u) > MaxValues || jsonBytes(u, func(h HostPath) int { return jsonsize.Len(h.Path) }) > MaxValueBytes {
		w.any |= AnyHostPaths
		return nil
	}
	return u
}

func (w *widen) seLinux(a, b []SELinux) []SELinux {
	if w.any.Has(AnySELinuxOptions) {
		return nil
	}
	u := joinSELinux(a, b)
	if len(u) > MaxValues || jsonBytes(u, SELinux.jsonLen) > MaxValueBytes {
		w.any |= AnySELinuxOptions
		return nil
	}
	return u
}

func (s SELinux) jsonLen() int {
	return jsonsize.Len(s.User) + jsonsize.Len(s.Role) + jsonsize.Len(s.Type) + jsonsize.Len(s.Level)
}

// jsonBytes adds up the JSON sizes of the values, stopping once past MaxValueBytes.
func jsonBytes[T any](values []T, size func(T) int) int {
	n := 0
	for _, v := range values {
		if n += size(v); n > MaxValueBytes {
			break
		}
	}
	return n
}

// bounded rounds rs out to aligned blocks of 2^j values, for the smallest j that leaves at most
// MaxRanges blocks. It is the least superset of rs in the family of sets that, for every j
// where they touch more than MaxRanges blocks of size 2^j, are made of blocks of size 2^(j+1).
// That family is closed under intersection, so bounded is a closure operator and Join stays a
// join; and a set of at most MaxRanges values (what real pods use) is never changed.
func (rs Ranges) bounded() Ranges {
	for j := uint(0); blocks(rs, j) > MaxRanges; j++ {
		rs = roundOut(rs, j+1)
	}
	return rs
}

// blocks counts the aligned blocks of size 2^j that sorted, disjoint rs touches, up to
// MaxRanges+1.
func blocks(rs Ranges, j uint) uint64 {
	var n uint64
	for i, r := range rs {
		lo, hi := r.Min>>j, r.Max>>j
		n += uint64(hi-lo) + 1
		if i > 0 && rs[i-1].Max>>j == lo {
			n-- // shares its first block with the previous range
		}
		if n > MaxRanges || hi-lo < 0 { // hi-lo < 0: the difference overflowed
			return MaxRanges + 1
		}
	}
	return n
}

// roundOut widens every range to whole aligned blocks of size 2^j and merges what then
// touches.
func roundOut(rs Ranges, j uint) Ranges {
	if j >= 64 {
		return Ranges{{math.MinInt64, math.MaxInt64}}
	}
	mask := int64(1)<<j - 1
	var out Ranges
	for _, r := range rs {
		r = Range{r.Min &^ mask, r.Max | mask}
		if n := len(out); n > 0 && (out[n-1].Max == math.MaxInt64 || r.Min <= out[n-1].Max+1) {
			out[n-1].Max = max(out[n-1].Max, r.Max)
			continue
		}
		out = append(out, r)
	}
	return out
}

// RoundedTo returns j > 0 if the set holds more than MaxRanges values and is made of aligned
// blocks of 2^j values: its bound may have rounded it out to such blocks, so it may allow
// values no pod used. It returns 0 for a set the bound left as observed.
func (rs Ranges) RoundedTo() uint {
	if blocks(rs, 0) <= MaxRanges {
		return 0
	}
	j := 64
	for _, r := range rs {
		j = min(j, bits.TrailingZeros64(uint64(r.Min)), bits.TrailingZeros64(uint64(r.Max)+1))
	}
	return uint(j)
}
