package attributes

import (
	"testing"

	"k8s.io/utils/ptr"
)

func TestObserveSupplementalGroups(t *testing.T) {
	runObserve(t, func(p Profile) Ranges { return p.SupplementalGroups }, []observeCase[Ranges]{
		{"no security context", one(nil, nil), nil},
		{"empty", one(&psc{SupplementalGroups: []int64{}}, nil), nil},
		{"unsorted with duplicates", one(&psc{SupplementalGroups: []int64{10, 2, 1, 3, 2}}, nil), Ranges{{1, 3}, {10, 10}}},
		{"fsGroup is not supplemental", one(&psc{FSGroup: ptr.To[int64](5)}, nil), nil},
	})
}
