package scenarios

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
)

// TestInspectAgreesWithConvert: once the scenario workloads run, `inspect` of each namespace
// of the real control plane (read-only, pods and owners listed) prints the same policy as
// `convert` of their manifests: the same workloads (a Deployment's pods are the Deployment's,
// a Job created from a CronJob under another name is the CronJob's) with the same attributes.
// The webhook is not installed. The DaemonSet is left out: without nodes it has no pods.
func TestInspectAgreesWithConvert(t *testing.T) {
	c := harness.Client(t)
	var infra []string
	for _, doc := range strings.Split(infraManifests(), "\n---\n") {
		if !strings.Contains(doc, "kind: DaemonSet") {
			infra = append(infra, doc)
		}
	}
	cases := []struct {
		prefix, manifests string
		pods              int
		after             func(ns string)
	}{
		{"inspect-web", webManifests(), 3, nil},
		{"inspect-batch", batchManifests(), 2, func(ns string) {
			harness.Kubectl(t, "", "create", "job", "nightly-manual", "--from=cronjob/nightly", "-n", ns)
		}},
		{"inspect-infra", strings.Join(infra, "\n---\n"), 1, nil},
	}
	for _, tc := range cases {
		ns := harness.Namespace(t, c, tc.prefix, nil)
		apply(t, ns, tc.manifests)
		if tc.after != nil {
			tc.after(ns)
		}
		harness.Eventually(t, 90*time.Second, "pods of "+ns, func() error {
			out := harness.Kubectl(t, "", "get", "pods", "-n", ns, "-o", "name")
			if n := strings.Count(out, "pod/"); n < tc.pods {
				return fmt.Errorf("%d of %d pods", n, tc.pods)
			}
			return nil
		})
		for _, format := range []string{"vap", "psp"} {
			want, _, err := harness.Run(t, tc.manifests, harness.Advisor(t), "convert", "-f", "-", "-n", ns, "--format", format)
			if err != nil {
				t.Fatal(err)
			}
			got, stderr, err := harness.Run(t, "", harness.Advisor(t), "inspect", "--kubeconfig", harness.Kubeconfig(t), "-n", ns, "--format", format)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s --format %s: inspect differs from convert (stderr %q)\ninspect:\n%s\nconvert:\n%s", ns, format, stderr, got, want)
			}
		}
	}
}
