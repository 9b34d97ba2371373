package aggregate_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pod-security-advisor/pod-security-advisor/internal/hostile"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/pss"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/store"
)

// TestWorstCaseRecord fills one record with everything a tenant controls, past every bound:
// pods of 100 containers with long values everywhere, an owner reference of long kind and
// name, 20 replicas with long names, and a verdict of many long findings (as a hostile state
// ConfigMap could hold). Its JSON stays within MaxRecordJSON, which is far below a shard.
func TestWorstCaseRecord(t *testing.T) {
	ref := owner.Ref{Kind: hostile.Value("Kind", 0, 4000), Name: hostile.Value("name", 0, 4000)}
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var verdict pss.Verdict
	for i := range 2 * aggregate.MaxFindings {
		f := pss.Finding{ID: hostile.Value("check", i, 200), Reason: hostile.Value("reason", i, 200)}
		for j := range 2 * aggregate.MaxDetails {
			f.Details = append(f.Details, hostile.Value("detail", j, 200))
		}
		verdict.Baseline = append(verdict.Baseline, f)
	}
	verdict.Restricted = verdict.Baseline
	joined := aggregate.New("reader")
	for i := range 20 {
		replica := aggregate.New(hostile.Value("replica", i, 200))
		n := 10 // values long enough to fill the sets, short enough to keep the test fast
		if i < 2 {
			n = 4000 // values long enough to be cut
		}
		pod := hostile.Pod(i, 100, n)
		pod.Namespace = "tenant-a"
		replica.Add(aggregate.Observe(pod, ref, at))
		replica.Add(aggregate.ObserveWith(pod, ref, at, verdict))
		joined.Merge(replica)
	}
	ns := joined.Namespaces["tenant-a"]
	if len(ns.Workloads) != 1 {
		t.Fatalf("%d records", len(ns.Workloads))
	}
	for key, w := range ns.Workloads {
		data, err := json.Marshal(map[string]*aggregate.Workload{key: w})
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > aggregate.MaxRecordJSON {
			t.Errorf("record JSON is %d bytes, over the bound of %d", len(data), aggregate.MaxRecordJSON)
		}
		if w.ImagesNotListed == 0 || w.ServiceAccountsNotListed != 0 && len(w.ServiceAccounts) < aggregate.MaxEvidence {
			t.Errorf("images not listed %d, service accounts %d (%d not listed)", w.ImagesNotListed, len(w.ServiceAccounts), w.ServiceAccountsNotListed)
		}
		t.Logf("worst-case record: %d bytes of JSON (bound %d; a shard holds %d bytes)", len(data), aggregate.MaxRecordJSON, store.DefaultMaxShardBytes)
	}
	if 8*aggregate.MaxRecordJSON > store.DefaultMaxShardBytes {
		t.Errorf("a record may take %d bytes: not far below a shard (%d)", aggregate.MaxRecordJSON, store.DefaultMaxShardBytes)
	}
}
