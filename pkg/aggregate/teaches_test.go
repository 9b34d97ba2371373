package aggregate_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/pod-security-advisor/pod-security-advisor/internal/synthetic"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

// Teaches answers what Add then reports, for new and repeated pods, over-long names, many
// images and a spent budget (overflow and fold), and changes nothing itself.
func TestTeachesIsAddWithoutAdding(t *testing.T) {
	for _, max := range []int{0, 40} {
		t.Run(fmt.Sprintf("max-workloads-%d", max), func(t *testing.T) {
			a := aggregate.New("r")
			a.MaxWorkloads = max
			r := rand.New(rand.NewPCG(7, 9))
			at := time.Unix(1_700_000_000, 0)
			teaching := 0
			for step := range 3000 {
				pod, ref := synthetic.Pod(r, r.IntN(120))
				pod.Namespace = fmt.Sprintf("ns-%d", r.IntN(6))
				if step%97 == 0 {
					pod.Namespace = strings.Repeat("n", 300)
					ref.Name = strings.Repeat("w", 300)
				}
				if r.IntN(2) == 0 { // past MaxEvidence images per record
					pod.Spec.Containers[0].Image = fmt.Sprintf("image-%d", r.IntN(80))
				}
				o := aggregate.Observe(pod, ref, at)
				var before *aggregate.Aggregate
				if step%100 == 0 {
					before = a.Clone()
				}
				want := a.Teaches(o)
				if before != nil && !equalState(t, before, a) {
					t.Fatalf("step %d: Teaches changed the aggregate", step)
				}
				if got := a.Add(o); got != want {
					t.Fatalf("step %d: Teaches %v, Add %v (%s %s)", step, want, got, o.Namespace, o.Owner)
				}
				if want {
					teaching++
				}
			}
			if teaching == 0 || teaching == 3000 {
				t.Fatalf("%d of 3000 observations taught something: the test exercises one answer only", teaching)
			}
		})
	}
}

func equalState(t *testing.T, a, b *aggregate.Aggregate) bool {
	t.Helper()
	x, err := a.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	y, err := b.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(x) == string(y)
}
