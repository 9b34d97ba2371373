package check

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/defaulting"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/manifest"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

const learned = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: web
        securityContext:
          capabilities: {add: [NET_BIND_SERVICE]}
      - name: log
        image: log
`

// changed adds one privilege per container, one at pod level, and keeps what was learned.
const changed = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      hostPID: true
      containers:
      - name: web
        image: web
        securityContext:
          capabilities: {add: [NET_BIND_SERVICE]}
      - name: log
        image: log
        securityContext:
          capabilities: {add: [NET_BIND_SERVICE, SYS_ADMIN]}
      initContainers:
      - name: init
        image: init
        securityContext: {privileged: true}
---
apiVersion: v1
kind: Pod
metadata: {name: elsewhere, namespace: other}
spec:
  containers: [{name: c, image: c, securityContext: {privileged: true}}]
`

func read(t *testing.T, yaml string) []manifest.Object {
	t.Helper()
	objects, _, err := manifest.Read(strings.NewReader(yaml), "test.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	return objects
}

// learn returns the aggregate JSON and the enforced vap rendering learned from yaml.
func learn(t *testing.T, yaml string) (state, vap []byte) {
	t.Helper()
	agg := aggregate.New("test")
	for _, o := range read(t, yaml) {
		defaulting.Apply(o.Pod)
		agg.Add(aggregate.Observe(o.Pod, o.Owner, time.Time{}))
	}
	var s, v bytes.Buffer
	if err := render.Render(&s, agg, render.Options{Format: render.FormatAggregate}); err != nil {
		t.Fatal(err)
	}
	if err := render.Render(&v, agg, render.Options{Format: render.FormatVAP, Enforce: true}); err != nil {
		t.Fatal(err)
	}
	return s.Bytes(), v.Bytes()
}

func TestCheck(t *testing.T) {
	state, vap := learn(t, learned)
	for name, policy := range map[string][]byte{"state": state, "vap": vap} {
		t.Run(name, func(t *testing.T) {
			set, err := LoadPolicy(policy, render.ScopeNamespace)
			if err != nil {
				t.Fatal(err)
			}
			same, err := Check(context.Background(), set, read(t, learned))
			if err != nil {
				t.Fatal(err)
			}
			if same.Passed != 1 || same.Denied != 0 || same.Workloads[0].Verdict != Pass {
				t.Errorf("the learned manifest: %+v", same)
			}
			res, err := Check(context.Background(), set, read(t, changed))
			if err != nil {
				t.Fatal(err)
			}
			if res.Denied != 1 || res.Unbound != 1 || res.Passed != 0 {
				t.Fatalf("counts: %s", res.Summary())
			}
			if v := res.Workloads[1].Verdict; v != Unbound {
				t.Errorf("pod in a namespace without policy: %s", v)
			}
			var fields, messages []string
			for _, v := range res.Workloads[0].Violations {
				if !v.Enforced {
					t.Errorf("%s: not enforced", v.Message)
				}
				fields = append(fields, v.Fields...)
				messages = append(messages, v.Message)
			}
			slices.Sort(fields)
			want := []string{
				"containers[1].securityContext.capabilities.add: SYS_ADMIN",
				"hostPID: true",
				"initContainers[0].securityContext.privileged: true",
			}
			if !slices.Equal(fields, want) {
				t.Errorf("fields\n got %q\nwant %q", fields, want)
			}
			if len(messages) != 3 || !strings.Contains(strings.Join(messages, "\n"), "only use capability NET_BIND_SERVICE") {
				t.Errorf("messages: %q", messages)
			}
			var text, js bytes.Buffer
			if err := WriteText(&text, res); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text.String(), "DENIED    shop/Deployment/web (test.yaml document 1)\n") ||
				!strings.HasSuffix(text.String(), "2 workloads: 1 denied, 0 pass, 1 without a learned policy\n") {
				t.Errorf("text:\n%s", text.String())
			}
			if err := WriteJSON(&js, res); err != nil {
				t.Fatal(err)
			}
			var back Result
			if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Denied != 1 || len(back.Workloads) != 2 {
				t.Errorf("json: %v\n%s", err, js.String())
			}
		})
	}
}

// A required field that is missing is no single field's fault: the container is named.
func TestCheckMissingField(t *testing.T) {
	_, vap := learn(t, `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  containers: [{name: web, image: web, securityContext: {capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}}}]
`)
	set, err := LoadPolicy(vap, render.ScopeNamespace)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Check(context.Background(), set, read(t, learned))
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, v := range res.Workloads[0].Violations {
		fields = append(fields, v.Fields...)
	}
	if res.Denied != 1 || !slices.ContainsFunc(fields, func(f string) bool { return f == "containers[0] (web)" }) {
		t.Errorf("%s: fields %q", res.Summary(), fields)
	}
}

func TestLoadPolicyBadInput(t *testing.T) {
	for name, in := range map[string]string{
		"not yaml":     "{",
		"no policies":  `{"namespaces": {}}`,
		"wrong object": "kind: ConfigMap\ndata: {x: y}\n",
	} {
		if _, err := LoadPolicy([]byte(in), render.ScopeNamespace); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// A pod of many failing containers is located within the probe budget and the fields bound.
func TestCheckBounded(t *testing.T) {
	_, vap := learn(t, learned)
	set, err := LoadPolicy(vap, render.ScopeNamespace)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Pod\nmetadata: {name: big, namespace: shop}\nspec:\n  containers:\n")
	for i := range 300 {
		fmt.Fprintf(&b, "  - {name: c%d, image: i, securityContext: {capabilities: {add: [SYS_ADMIN]}}}\n", i)
	}
	start := time.Now()
	res, err := Check(context.Background(), set, read(t, b.String()))
	if err != nil {
		t.Fatal(err)
	}
	fields := res.Workloads[0].Violations[0].Fields
	if res.Denied != 1 || len(fields) != maxFields+1 || !strings.HasPrefix(fields[maxFields], "… ") {
		t.Errorf("%s: %d fields, last %q", res.Summary(), len(fields), fields[len(fields)-1])
	}
	for _, f := range fields[:maxFields] {
		if !strings.HasSuffix(f, ".securityContext.capabilities.add: SYS_ADMIN") {
			t.Errorf("field %q: not the added capability", f)
		}
	}
	t.Logf("300 failing containers located in %v", time.Since(start))
}
