package scenarios

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/pod-security-advisor/pod-security-advisor/e2e/internal/harness"
)

// restricted is a container securityContext that passes Pod Security Standards "restricted".
const restricted = `{allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, runAsUser: 1000, capabilities: {drop: [ALL]}, seccompProfile: {type: RuntimeDefault}}`

func webManifests() string {
	return `
apiVersion: v1
kind: ServiceAccount
metadata: {name: web}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: solo}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      containers: [{name: web, image: nginx:1.27, securityContext: ` + restricted + `}]
---
apiVersion: v1
kind: Pod
metadata: {name: solo}
spec:
  serviceAccountName: solo
  containers: [{name: sleep, image: busybox:1.36, securityContext: ` + restricted + `}]
`
}

func batchManifests() string {
	return `
apiVersion: v1
kind: ServiceAccount
metadata: {name: migrator}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: reporter}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      serviceAccountName: migrator
      restartPolicy: Never
      containers: [{name: migrate, image: busybox:1.36, securityContext: ` + restricted + `}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          serviceAccountName: reporter
          restartPolicy: Never
          containers: [{name: report, image: busybox:1.36, securityContext: {runAsUser: 0}}]
`
}

// infraManifests: a node agent that needs the host (hostPID, a read-only hostPath) and a
// database that runs as its own user.
func infraManifests() string {
	return `
apiVersion: v1
kind: ServiceAccount
metadata: {name: agent}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: db}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      serviceAccountName: agent
      hostPID: true
      containers:
      - name: agent
        image: busybox:1.36
        volumeMounts: [{name: logs, mountPath: /host/var/log, readOnly: true}]
      volumes: [{name: logs, hostPath: {path: /var/log}}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      serviceAccountName: db
      securityContext: {runAsUser: 999, runAsNonRoot: true}
      containers: [{name: db, image: postgres:17}]
`
}

// reportEntry is a privilege, setting or requirement of report.json, and its workloads.
type reportEntry struct {
	Name      string `json:"name"`
	Workloads []struct {
		Namespace       string   `json:"namespace"`
		Kind            string   `json:"kind"`
		Name            string   `json:"name"`
		ServiceAccounts []string `json:"serviceAccounts"`
	} `json:"workloads"`
}

// reportDoc is the part of report.json the scenarios read.
type reportDoc struct {
	Privileges   []reportEntry `json:"privileges"`
	Settings     []reportEntry `json:"settings"`
	Requirements []reportEntry `json:"requirements"`
	Namespaces   map[string]struct {
		Level string `json:"level"`
	} `json:"namespaces"`
}

// TestLearnsOwnerWorkloads: pods created directly and by every workload controller, in three
// namespaces, are learned under their top-level owner (Deployment, not ReplicaSet; CronJob,
// not Job) with their service accounts, and `kubectl get configmap` returns a policy saying so.
func TestLearnsOwnerWorkloads(t *testing.T) {
	r := install(t, installOptions{})
	r.Start(t, webhookOptions{})
	web, batch, infra := r.TestNamespace(t, "web"), r.TestNamespace(t, "batch"), r.TestNamespace(t, "infra")
	apply(t, web, webManifests())
	apply(t, batch, batchManifests())
	apply(t, infra, infraManifests())
	// What `kubectl create job --from=cronjob/...` creates: a Job the CronJob controls, with a
	// name that does not tell (the owner comes from the webhook's metadata cache).
	harness.Kubectl(t, "", "create", "job", "nightly-manual", "--from=cronjob/nightly", "-n", batch)

	// Exactly these workloads, with exactly these service accounts.
	want := map[string][]string{
		web + "/Deployment/web":    {"web"},
		web + "/Pod/solo":          {"solo"},
		batch + "/Job/migrate":     {"migrator"},
		batch + "/CronJob/nightly": {"reporter"},
		infra + "/DaemonSet/agent": {"agent"},
		infra + "/StatefulSet/db":  {"db"},
	}
	r.WaitWorkloads(t, 90*time.Second, slices.Sorted(maps.Keys(want))...)
	// Pods of the same workloads keep arriving (the second web replica): let the last flush land.
	time.Sleep(2 * time.Second)
	agg, err := r.State(t)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for key, w := range workloads(agg) {
		got[key] = w.ServiceAccounts
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("state workloads and service accounts:\n got %v\nwant %v", got, want)
	}

	// The policy, as users fetch it.
	var rep reportDoc
	if err := json.Unmarshal([]byte(r.PolicyKey(t, "report.json")), &rep); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	evidence := map[string][]string{} // "privilege: hostPID", … → workloads
	seen := map[string][]string{}     // workload → its service accounts
	for kind, list := range map[string][]reportEntry{"privilege": rep.Privileges, "setting": rep.Settings, "requirement": rep.Requirements} {
		for _, e := range list {
			for _, w := range e.Workloads {
				key := w.Namespace + "/" + w.Kind + "/" + w.Name
				evidence[kind+": "+e.Name] = append(evidence[kind+": "+e.Name], key)
				seen[key] = w.ServiceAccounts
			}
		}
	}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("report.json names workloads and service accounts\n got %v\nwant %v", seen, want)
	}
	for allowance, who := range map[string][]string{
		"privilege: hostPID":              {infra + "/DaemonSet/agent"},
		"privilege: hostPath /var/log ro": {infra + "/DaemonSet/agent"},
		"privilege: runAsUser 0":          {batch + "/CronJob/nightly"},
		"setting: runAsUser 999":          {infra + "/StatefulSet/db"},
		"setting: runAsUser 1000":         {web + "/Deployment/web", web + "/Pod/solo", batch + "/Job/migrate"},
	} {
		slices.Sort(who)
		if got := slices.Sorted(slices.Values(evidence[allowance])); !reflect.DeepEqual(got, who) {
			t.Errorf("report.json: %q is needed by %v, want %v", allowance, got, who)
		}
	}
	// Requirements held are listed apart from what is used: the restricted web Deployment runs
	// as non-root, the CronJob that runs as root does not.
	nonRoot := evidence["requirement: runs as non-root (runAsNonRoot: true)"]
	if !slices.Contains(nonRoot, web+"/Deployment/web") || slices.Contains(nonRoot, batch+"/CronJob/nightly") {
		t.Errorf("report.json: runs as non-root held by %v, want %s and not %s", nonRoot, web+"/Deployment/web", batch+"/CronJob/nightly")
	}
	for ns, level := range map[string]string{web: "restricted", batch: "baseline", infra: "privileged"} {
		if got := rep.Namespaces[ns].Level; got != level {
			t.Errorf("report.json: namespace %s level %q, want %q", ns, got, level)
		}
	}

	pss := namespaceLabels(t, r.PolicyKey(t, "pod-security-standards.yaml"))
	for ns, level := range map[string]string{web: "restricted", batch: "baseline", infra: "privileged"} {
		if got := pss[ns]["pod-security.kubernetes.io/enforce"]; got != level {
			t.Errorf("pod-security-standards.yaml: namespace %s enforce=%q, want %q (labels %v)", ns, got, level, pss[ns])
		}
	}
	if len(pss) != 3 {
		t.Errorf("pod-security-standards.yaml: namespaces %v, want exactly %s, %s, %s", slices.Sorted(maps.Keys(pss)), web, batch, infra)
	}

	vap := r.PolicyKey(t, "validating-admission-policy.yaml")
	for key, sas := range want {
		line := fmt.Sprintf("%s (service accounts: %s)", key, strings.Join(sas, ", "))
		if !strings.Contains(vap, line) {
			t.Errorf("validating-admission-policy.yaml does not name %q", line)
		}
	}
	for _, ns := range []string{web, batch, infra} {
		if !strings.Contains(vap, "name: pod-security-advisor-"+ns+"\n") {
			t.Errorf("validating-admission-policy.yaml has no policy for namespace %s", ns)
		}
	}
	// Generated names never become workloads.
	for key, text := range r.Policy(t) {
		for _, bad := range []string{"ReplicaSet", "nightly-manual", "/Job/nightly"} {
			if strings.Contains(text, bad) {
				t.Errorf("policy key %s mentions %q", key, bad)
			}
		}
	}
}

// namespaceLabels reads the Namespaces of a pod-security-standards.yaml rendering.
func namespaceLabels(t *testing.T, text string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, doc := range strings.Split(text, "\n---\n") {
		var ns corev1.Namespace
		if err := yaml.Unmarshal([]byte(doc), &ns); err != nil {
			t.Fatalf("pod-security-standards.yaml: %v\n%s", err, doc)
		}
		if ns.Kind == "Namespace" {
			out[ns.Name] = ns.Labels
		}
	}
	return out
}
