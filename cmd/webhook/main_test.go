package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/yaml"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/policy"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/store"
)

// run executes the CLI with args and stdin, returning stdout, stderr and the error.
func run(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

// TestConvertLegacyMix checks the PodSecurityPolicy learned from six workload kinds field by
// field, including the cases older generators got wrong.
func TestConvertLegacyMix(t *testing.T) {
	out, stderr, err := run(t, "", "convert", "-f", "testdata/legacy-mix.yaml", "--format", "psp")
	if err != nil {
		t.Fatal(err)
	}
	for _, skipped := range []string{"skipped 2 objects without pod templates: ConfigMap ×1, Namespace ×1 (-v lists them)"} {
		if !strings.Contains(stderr, skipped) {
			t.Errorf("stderr does not mention %q:\n%s", skipped, stderr)
		}
	}
	var psp struct {
		Kind     string
		Metadata struct{ Name string }
		Spec     map[string]any
	}
	if err := yaml.Unmarshal([]byte(out), &psp); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if psp.Kind != "PodSecurityPolicy" || psp.Metadata.Name != "pod-security-advisor-legacy" {
		t.Errorf("kind %q name %q", psp.Kind, psp.Metadata.Name)
	}
	want := map[string]any{
		"privileged":               true, // the ReplicationController
		"hostNetwork":              true,
		"hostPID":                  true,
		"hostIPC":                  true,
		"allowPrivilegeEscalation": true,
		"allowedCapabilities":      []any{"NET_ADMIN", "SYS_PTRACE"}, // cap_net_admin normalised, one entry
		// only the DaemonSet's explicit host port: no {0,0}, not its plain containerPort 8080
		"hostPorts": []any{map[string]any{"min": float64(2020), "max": float64(2020)}},
		"volumes":   []any{"configMap", "hostPath", "projected"}, // projected: the service-account token
		// readOnly per path: the old generator forced it on every path
		"allowedHostPaths": []any{
			map[string]any{"pathPrefix": "/opt/bin", "readOnly": true},
			map[string]any{"pathPrefix": "/opt/sbin", "readOnly": true},
			map[string]any{"pathPrefix": "/var/log", "readOnly": false},
			map[string]any{"pathPrefix": "/var/tmp/debug", "readOnly": false},
		},
		// the bare pod leaves runAsUser to the image, so no UID range can be required
		"runAsUser": map[string]any{"rule": "RunAsAny"},
	}
	for field, exp := range want {
		got := psp.Spec[field]
		if field == "allowedHostPaths" {
			got = normaliseHostPaths(got)
		}
		if !reflect.DeepEqual(got, exp) {
			t.Errorf("spec.%s = %#v, want %#v", field, got, exp)
		}
	}
	for _, absent := range []string{"requiredDropCapabilities", "readOnlyRootFilesystem"} {
		if v, ok := psp.Spec[absent]; ok && v != false && v != nil {
			t.Errorf("spec.%s = %#v, want unset: not every container agreed", absent, v)
		}
	}
}

// normaliseHostPaths spells out readOnly: false, which YAML output may omit.
func normaliseHostPaths(v any) any {
	list, _ := v.([]any)
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			if _, ok := m["readOnly"]; !ok {
				m["readOnly"] = false
			}
		}
	}
	return v
}

// TestConvertEffectiveUser: the Job's container has a securityContext of its own, yet runs as
// the pod's runAsUser and runAsNonRoot.
func TestConvertEffectiveUser(t *testing.T) {
	out, _, err := run(t, "", "convert", "-f", "testdata/legacy-mix.yaml", "--format", "aggregate")
	if err != nil {
		t.Fatal(err)
	}
	agg := aggregate.New("test")
	if err := json.Unmarshal([]byte(out), agg); err != nil {
		t.Fatal(err)
	}
	ns := agg.Namespaces["legacy"]
	if ns == nil || len(ns.Workloads) != 6 {
		t.Fatalf("want 6 workloads in legacy, got %+v", ns)
	}
	job := ns.Workloads["Job/migrate"]
	if job == nil {
		t.Fatal("Job/migrate not learned")
	}
	if job.Profile.MayRunAsRoot || job.Profile.RunAsUser.Unset || job.Profile.RunAsUser.Values.String() != "4000" {
		t.Errorf("job profile: mayRunAsRoot %v runAsUser %+v", job.Profile.MayRunAsRoot, job.Profile.RunAsUser)
	}
	if got := job.ServiceAccounts; !reflect.DeepEqual(got, []string{"default"}) {
		t.Errorf("service accounts %v", got)
	}
}

func TestConvertErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Pod\nspec: {hostNetwork: maybe}\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"malformed document", []string{"convert", "-f", bad}, "bad.yaml: document 2"},
		{"missing file", []string{"convert", "-f", filepath.Join(dir, "none.yaml")}, "none.yaml"},
		{"no input", []string{"convert"}, "no input"},
		{"unknown format", []string{"convert", "-f", "testdata/legacy-mix.yaml", "--format", "opa"}, "opa"},
		{"unknown scope", []string{"convert", "-f", "testdata/legacy-mix.yaml", "--scope", "node"}, "node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := run(t, "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to mention %q", err, tt.want)
			}
			if out != "" {
				t.Errorf("wrote output on error:\n%s", out)
			}
		})
	}
}

// TestRenderRoundTrip: an aggregate saved by convert renders the same policy as convert does.
func TestRenderRoundTrip(t *testing.T) {
	saved, _, err := run(t, "", "convert", "-f", "testdata/legacy-mix.yaml", "-f", "../../examples", "--format", "aggregate")
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"pss", "vap", "psp", "gatekeeper", "report", "aggregate"} {
		direct, _, err := run(t, "", "convert", "-f", "testdata/legacy-mix.yaml", "-f", "../../examples", "--format", format)
		if err != nil {
			t.Fatal(err)
		}
		rendered, _, err := run(t, saved, "render", "--format", format)
		if err != nil {
			t.Fatal(err)
		}
		if direct != rendered {
			t.Errorf("%s: render of the saved aggregate differs from convert", format)
		}
	}
	if _, _, err := run(t, `{"apiVersion":"v0"}`, "render"); err == nil || !strings.Contains(err.Error(), "stdin") {
		t.Errorf("foreign aggregate: error %v", err)
	}
}

func TestStdinInput(t *testing.T) {
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {hostPID: true, containers: [{name: c, image: i}]}\n"
	out, _, err := run(t, pod, "convert", "-f", "-", "--namespace", "team-a", "--format", "pss")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "name: team-a") || !strings.Contains(out, "pod-security.kubernetes.io/enforce: privileged") {
		t.Errorf("unexpected pss output:\n%s", out)
	}
}

// TestRenderStateConfigMaps: render reads the webhook's state as kubectl prints it.
func TestRenderStateConfigMaps(t *testing.T) {
	saved, _, err := run(t, "", "convert", "-f", "../../examples", "--format", "aggregate")
	if err != nil {
		t.Fatal(err)
	}
	agg := aggregate.New("test")
	if err := json.Unmarshal([]byte(saved), agg); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().Build()
	st, err := store.New(store.Options{Namespace: "psa", Name: "psa", Reader: c, Client: c, InitialShards: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.Save(ctx, agg); err != nil {
		t.Fatal(err)
	}
	list := &corev1.ConfigMapList{}
	if err := c.List(ctx, list); err != nil || len(list.Items) < 2 {
		t.Fatalf("want several shards: %v %d", err, len(list.Items))
	}
	list.Kind, list.APIVersion = "List", "v1"
	data, _ := json.Marshal(list)
	want, _, _ := run(t, saved, "render", "--format", "pss")
	got, _, err := run(t, string(data), "render", "--format", "pss")
	if err != nil || got != want {
		t.Fatalf("render of state ConfigMaps differs (%v):\n%s\nwant:\n%s", err, got, want)
	}
	asYAML, err := yaml.JSONToYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := run(t, string(asYAML), "render", "--format", "pss"); err != nil || got != want {
		t.Errorf("render of state ConfigMaps as YAML differs (%v):\n%s", err, got)
	}
	list.Items[0].Kind, list.Items[0].APIVersion = "ConfigMap", "v1"
	one, _ := json.Marshal(list.Items[0])
	if _, _, err := run(t, string(one), "render", "--format", "report"); err != nil {
		t.Errorf("one shard: %v", err)
	}
}

// TestPolicyNoteCommands: the command a policy note prints to render what it left out works as
// printed, flags included, on the state ConfigMaps kubectl lists.
func TestPolicyNoteCommands(t *testing.T) {
	if policy.LabelState != store.LabelState {
		t.Fatalf("notes select %s, the state is labelled %s", policy.LabelState, store.LabelState)
	}
	saved, _, err := run(t, "", "convert", "-f", "testdata/legacy-mix.yaml", "-f", "../../examples", "--format", "aggregate")
	if err != nil {
		t.Fatal(err)
	}
	agg := aggregate.New("test")
	if err := json.Unmarshal([]byte(saved), agg); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := fake.NewClientBuilder().Build()
	st, err := store.New(store.Options{Namespace: "psa", Name: "psa", Reader: c, Client: c, InitialShards: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Save(ctx, agg); err != nil {
		t.Fatal(err)
	}
	state := &corev1.ConfigMapList{}
	if err := c.List(ctx, state, client.MatchingLabels{store.LabelState: "psa"}); err != nil {
		t.Fatal(err)
	}
	state.Kind, state.APIVersion = "List", "v1"
	stdin, _ := json.Marshal(state)

	// A budget of 1 byte leaves every format out, and every note says how to render it.
	pub := &policy.Publisher{Namespace: "psa", Name: "psa-policy", Scope: "serviceaccount", Enforce: true, MaxTotalBytes: 1}
	cms, err := pub.Render(agg)
	if err != nil {
		t.Fatal(err)
	}
	tried := 0
	for _, cm := range cms[1:] {
		for key, format := range policy.Keys {
			_, command, ok := strings.Cut(cm.Data[key], "#   ")
			if !ok {
				t.Fatalf("%s/%s: no command in %q", cm.Name, key, cm.Data[key])
			}
			kubectl, rendering, _ := strings.Cut(strings.TrimSpace(command), " | ")
			if kubectl != "kubectl get configmap -n psa -l "+store.LabelState+" -o json" {
				t.Errorf("%s/%s: reads %q", cm.Name, key, kubectl)
			}
			args := strings.Fields(strings.TrimPrefix(rendering, "pod-security-advisor "))
			got, _, err := run(t, string(stdin), args...)
			if err != nil {
				t.Fatalf("%s: %v", rendering, err)
			}
			namespaces := strings.Split(args[len(args)-1], ",")
			sub := aggregate.New("")
			for _, ns := range namespaces {
				sub.Namespaces[ns] = agg.Namespaces[ns]
			}
			var want bytes.Buffer
			if err := render.Render(&want, sub, render.Options{Format: format, Scope: "serviceaccount", Enforce: true}); err != nil {
				t.Fatal(err)
			}
			if got != want.String() || got == "" {
				t.Errorf("%s renders something else than %s of %v", rendering, format, namespaces)
			}
			tried++
		}
	}
	if tried == 0 {
		t.Error("no note tried")
	}
}

// TestServeRejectsBounds: a bound that cannot work is refused before anything starts.
func TestServeRejectsBounds(t *testing.T) {
	for _, c := range []struct{ flag, want string }{
		{"--max-workloads=-1", "--max-workloads -1: must not be negative"},
		{"--max-policy-bytes=0", "--max-policy-bytes 0: must be positive"},
	} {
		cmd := newServeCommand()
		cmd.SetArgs([]string{"--namespace=psa", c.flag})
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.flag, err, c.want)
		}
	}
}
