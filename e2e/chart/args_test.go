package chart

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
)

// TestArgsAcceptedByServe builds the webhook binary from this repository and hands it the
// arguments the chart renders (with --help, so it parses every flag and value, then stops):
// a flag renamed in cmd/webhook and not in the chart fails here, not in a cluster.
func TestArgsAcceptedByServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "pod-security-advisor")
	build := exec.Command("go", "build", "-o", bin, "./cmd/webhook")
	build.Dir = root
	build.Env = append(os.Environ(), "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/webhook: %v\n%s", err, out)
	}
	expand := strings.NewReplacer("$(POD_NAMESPACE)", releaseNamespace, "$(POD_NAME)", fullname+"-abc12")
	for _, vs := range append(valueSets, struct{ name, values string }{"tuned", `
logging: {format: console, level: 3, development: true}
tls: {minVersion: "1.3", enableHTTP2: true}
learning: {flushInterval: 1m30s, refreshInterval: 1h, maxWorkloads: 10, backfill: false, scope: serviceaccount, enforce: true}
metrics: {port: 0}
webhook:
  objectSelector: {matchExpressions: [{key: app, operator: In, values: [web, api]}]}
  namespaceSelectorExpressions: [{key: team, operator: Exists}]
`}) {
		t.Run(vs.name, func(t *testing.T) {
			dep := object[appsv1.Deployment](t, manifests(t, mustRender(t, releaseName, releaseNamespace, vs.values)), "Deployment", fullname)
			c := dep.Spec.Template.Spec.Containers[0]
			if len(c.Command) != 0 {
				t.Errorf("command %v overrides the image's entrypoint", c.Command)
			}
			var args []string
			for _, a := range c.Args {
				args = append(args, expand.Replace(a))
			}
			if out, err := exec.Command(bin, append(args, "--help")...).CombinedOutput(); err != nil {
				t.Errorf("pod-security-advisor %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
	// The opt-in uninstall hook runs the same binary.
	t.Run("uninstall hook", func(t *testing.T) {
		job := object[batchv1.Job](t, manifests(t, mustRender(t, releaseName, releaseNamespace, valuesUninstall)), "Job", fullname+"-uninstall")
		args := job.Spec.Template.Spec.Containers[0].Args
		if out, err := exec.Command(bin, append(args, "--help")...).CombinedOutput(); err != nil {
			t.Errorf("pod-security-advisor %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
}
