package aggregate

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/pss"
)

// TestEvidenceBound: past MaxEvidence, the same names are kept whatever the order they came
// in, and the count of those not listed is estimated.
func TestEvidenceBound(t *testing.T) {
	const n = 2000
	var images []string
	for i := range n {
		images = append(images, fmt.Sprintf("registry.example.com/app:%d", i))
	}
	var fwd, rev []string
	var fwdCut, revCut int64
	for _, v := range images {
		evidence{&fwd, &fwdCut}.join([]string{v}, 0)
	}
	for _, v := range slices.Backward(images) {
		evidence{&rev, &revCut}.join([]string{v}, 0)
	}
	if !slices.Equal(fwd, rev) || fwdCut != revCut {
		t.Fatalf("order changed what is kept: %d/%d vs %d/%d", len(fwd), fwdCut, len(rev), revCut)
	}
	if len(fwd) != MaxEvidence || !slices.IsSorted(fwd) {
		t.Fatalf("kept %d images", len(fwd))
	}
	if missing := int64(n - MaxEvidence); fwdCut < missing/2 || fwdCut > 2*missing {
		t.Errorf("estimated %d images not listed, %d were", fwdCut, missing)
	}
	// A set that never passed its bound says nothing was cut.
	var few []string
	var fewCut int64
	evidence{&few, &fewCut}.join(images[:MaxEvidence], 0)
	if len(few) != MaxEvidence || fewCut != 0 {
		t.Errorf("a full set reports %d not listed", fewCut)
	}
	// Joining a set that was cut marks the result cut.
	if !(evidence{&few, &fewCut}).join(nil, 5) || fewCut == 0 {
		t.Error("the cut of a merged set was lost")
	}
}

// TestCountsBound: counters of many replicas keep the largest MaxReplicas, the same ones
// whatever order the replicas merge in.
func TestCountsBound(t *testing.T) {
	o := Observation{Namespace: "ns", Owner: owner.Ref{Kind: "Deployment", Name: "a"}, ServiceAccount: "default"}
	replicas := make([]*Aggregate, 3*MaxReplicas/2)
	for i := range replicas {
		replicas[i] = New(fmt.Sprintf("replica-%02d", i))
		for range 1 + i%5 {
			replicas[i].Add(o)
		}
	}
	fwd, rev := New("x"), New("x")
	for i := range replicas {
		fwd.Merge(replicas[i])
		rev.Merge(replicas[len(replicas)-1-i])
	}
	got := fwd.Namespaces["ns"].Workloads["Deployment/a"].Counts
	if len(got) != MaxReplicas || !reflect.DeepEqual(got, rev.Namespaces["ns"].Workloads["Deployment/a"].Counts) {
		t.Fatalf("counters %v vs %v", got, rev.Namespaces["ns"].Workloads["Deployment/a"].Counts)
	}
	for i, r := range replicas {
		c := r.Namespaces["ns"].Workloads["Deployment/a"].Counts.Total()
		if j, ok := got.find(r.Replica); c >= 3 && (!ok || got[j].N != c) {
			t.Errorf("replica %d: counter %d dropped or changed while smaller ones were kept", i, c)
		}
	}
}

// TestV1StateLoads reads a state saved before the bounds existed (testdata/v1-state.json,
// written by the code of commit d7b6dd4): every record loads, the record grown without bounds
// is brought within them, and nothing it allowed is lost.
func TestV1StateLoads(t *testing.T) {
	data, err := os.ReadFile("testdata/v1-state.json")
	if err != nil {
		t.Fatal(err)
	}
	var old struct {
		Namespaces map[string]struct {
			Workloads map[string]struct {
				ServiceAccounts []string `json:"serviceAccounts"`
				Images          []string `json:"images"`
				Profile         struct {
					RunAsUser struct {
						Values attributes.Ranges `json:"values"`
					} `json:"runAsUser"`
					HostPaths []attributes.HostPath `json:"hostPaths"`
					Sysctls   []string              `json:"sysctls"`
				} `json:"profile"`
			} `json:"workloads"`
		} `json:"namespaces"`
	}
	if err := json.Unmarshal(data, &old); err != nil {
		t.Fatal(err)
	}
	agg := New("")
	if err := json.Unmarshal(data, agg); err != nil {
		t.Fatalf("v1 state does not load: %v", err)
	}
	n := 0
	for name, ns := range old.Namespaces {
		for key, ow := range ns.Workloads {
			n++
			w := agg.Namespaces[name].Workloads[key]
			if w == nil {
				t.Fatalf("%s/%s lost", name, key)
			}
			for _, v := range ow.Profile.RunAsUser.Values {
				if !attributes.Covers(*w.Profile, attributes.Profile{RunAsUser: attributes.IDs{Values: attributes.Ranges{v}}}) {
					t.Errorf("%s/%s: runAsUser %v lost", name, key, v)
				}
			}
			if len(ow.Profile.HostPaths) > attributes.MaxValues != w.Profile.AnyValue.Has(attributes.AnyHostPaths) ||
				len(ow.Profile.Sysctls) > attributes.MaxValues != w.Profile.AnyValue.Has(attributes.AnySysctls) {
				t.Errorf("%s/%s: widened %v", name, key, w.Profile.AnyValue.Names())
			}
			if len(ow.Images) > MaxEvidence != (w.ImagesNotListed > 0) || len(w.Images) > MaxEvidence {
				t.Errorf("%s/%s: %d images, %d kept, %d not listed", name, key, len(ow.Images), len(w.Images), w.ImagesNotListed)
			}
			if !slices.Equal(w.ServiceAccounts, ow.ServiceAccounts) {
				t.Errorf("%s/%s: service accounts %v, stored %v", name, key, w.ServiceAccounts, ow.ServiceAccounts)
			}
		}
	}
	if n != agg.Workloads() || n < 20 {
		t.Errorf("%d records loaded, %d stored", agg.Workloads(), n)
	}
	big := agg.Namespaces["tenant-a"].Workloads["Deployment/big"]
	if big == nil || !big.Profile.AnyValue.Has(attributes.AnyHostPaths) || big.ImagesNotListed == 0 {
		t.Fatal("the unbounded record of the saved state was not brought within the bounds")
	}
	// A count of names not listed is the estimate of what is kept, whatever was stored.
	hostile := []byte(`{"apiVersion":"pod-security-advisor.io/v1","kind":"Aggregate","namespaces":{"a":{"workloads":{"Pod/x":` +
		`{"kind":"Pod","name":"x","images":["b","a"],"imagesNotListed":1000000000000}}}}}`)
	h := New("")
	if err := json.Unmarshal(hostile, h); err != nil {
		t.Fatal(err)
	}
	if w := h.Namespaces["a"].Workloads["Pod/x"]; w.ImagesNotListed != estimateNotListed(w.Images) || !slices.Equal(w.Images, []string{"a", "b"}) {
		t.Errorf("stored count of images not listed kept: %d %v", w.ImagesNotListed, w.Images)
	}
	// What loads within the bounds saves and loads again unchanged.
	again, _ := json.Marshal(agg)
	back := New("")
	if err := json.Unmarshal(again, back); err != nil || !reflect.DeepEqual(back.Namespaces, agg.Namespaces) {
		t.Errorf("bounded state changed through JSON: %v", err)
	}
}

// TestRecordsShare: records of equal profiles and verdicts share them.
func TestRecordsShare(t *testing.T) {
	a := New("r")
	v := pss.Verdict{Restricted: []pss.Finding{{ID: "runAsNonRoot", Reason: "runAsNonRoot != true", Details: []string{"pod"}}}}
	for _, name := range []string{"a", "b"} {
		a.Add(Observation{Namespace: "ns", Owner: owner.Ref{Kind: "Deployment", Name: name}, ServiceAccount: "default",
			Profile: attributes.Profile{MayRunAsRoot: true, SeccompProfiles: []string{"Unset"}},
			Verdict: pss.Verdict{Restricted: slices.Clone(v.Restricted)}})
	}
	x, y := a.Namespaces["ns"].Workloads["Deployment/a"], a.Namespaces["ns"].Workloads["Deployment/b"]
	if x.Profile != y.Profile || !sameFindings(x.PSS.Restricted, y.PSS.Restricted) {
		t.Error("equal profiles or verdicts are not shared")
	}
	if !equalVerdicts(x.PSS, v) || !x.Profile.MayRunAsRoot {
		t.Errorf("shared values differ: %+v %+v", x.PSS, x.Profile)
	}
}
