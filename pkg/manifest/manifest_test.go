package manifest

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
)

// summary is a compact, comparable view of one Object.
func summary(o Object) string {
	var ctrs []string
	for _, c := range o.Pod.Spec.InitContainers {
		ctrs = append(ctrs, "init:"+c.Name)
	}
	for _, c := range o.Pod.Spec.Containers {
		ctrs = append(ctrs, c.Name)
	}
	s := fmt.Sprintf("%s#%d %s pod=%s/%s containers=%s", o.Source, o.Document, o.Owner, o.Pod.Namespace, o.Pod.Name, strings.Join(ctrs, ","))
	if len(o.Pod.Labels) > 0 {
		s += " labels=" + kv(o.Pod.Labels)
	}
	if len(o.Pod.Annotations) > 0 {
		s += " annotations=" + kv(o.Pod.Annotations)
	}
	if len(o.Pod.Spec.Volumes) > 0 {
		var vs []string
		for _, v := range o.Pod.Spec.Volumes {
			t := "?"
			switch {
			case v.PersistentVolumeClaim != nil:
				t = "pvc:" + v.PersistentVolumeClaim.ClaimName
			case v.EmptyDir != nil:
				t = "emptyDir"
			case v.HostPath != nil:
				t = "hostPath:" + v.HostPath.Path
			case v.ConfigMap != nil:
				t = "configMap"
			}
			vs = append(vs, v.Name+"="+t)
		}
		s += " volumes=" + strings.Join(vs, ",")
	}
	return s
}

func kv(m map[string]string) string {
	var out []string
	for k, v := range m {
		out = append(out, k+":"+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func skippedSummary(s Skipped) string {
	return fmt.Sprintf("%s#%d %s %s %s", s.Source, s.Document, s.APIVersion, s.Kind, s.Name)
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {owner: label}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      name: ignored
      namespace: ignored
      labels: {app: web}
      annotations: {container.apparmor.security.beta.kubernetes.io/nginx: runtime/default}
    spec:
      initContainers:
      - name: setup
        image: busybox
      containers:
      - name: nginx
        image: nginx
        securityContext:
          privileged: true
`

func TestRead(t *testing.T) {
	tests := []struct {
		name        string
		source      string
		namespace   string
		in          string
		want        []string
		wantSkipped []string
	}{
		{
			name:   "Deployment: namespace from object, pod name from owner, template labels and annotations",
			source: "deploy.yaml",
			in:     deployment,
			want: []string{
				"deploy.yaml#1 Deployment/web pod=shop/web containers=init:setup,nginx labels=app:web annotations=container.apparmor.security.beta.kubernetes.io/nginx:runtime/default",
			},
		},
		{
			name: "Pod keeps its own metadata",
			in: `apiVersion: v1
kind: Pod
metadata:
  name: debug
  labels: {run: debug}
  annotations: {a: b}
spec:
  containers: [{name: sh, image: busybox}]
`,
			want: []string{"m.yaml#1 Pod/debug pod=default/debug containers=sh labels=run:debug annotations=a:b"},
		},
		{
			name: "Pod with only generateName",
			in: `apiVersion: v1
kind: Pod
metadata: {generateName: job-}
spec: {containers: [{name: c, image: i}]}
`,
			want: []string{"m.yaml#1 Pod/job pod=default/job containers=c"},
		},
		{
			name: "every workload kind, in input order",
			in: `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec: {selector: {}, template: {spec: {containers: [{name: a, image: i}]}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds, namespace: kube-system}
spec: {selector: {}, template: {spec: {hostNetwork: true, containers: [{name: b, image: i}]}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: i}]}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        metadata: {labels: {job: backup}}
        spec: {restartPolicy: OnFailure, containers: [{name: d, image: i}]}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec: {template: {metadata: {labels: {x: z}}, spec: {containers: [{name: e, image: i}]}}}
---
apiVersion: v1
kind: PodTemplate
metadata: {name: tmpl}
template: {spec: {containers: [{name: f, image: i}]}}
`,
			want: []string{
				"m.yaml#1 ReplicaSet/rs pod=default/rs containers=a",
				"m.yaml#2 DaemonSet/ds pod=kube-system/ds containers=b",
				"m.yaml#3 Job/migrate pod=default/migrate containers=c",
				"m.yaml#4 CronJob/backup pod=default/backup containers=d labels=job:backup",
				"m.yaml#5 ReplicationController/rc pod=default/rc containers=e labels=x:z",
				"m.yaml#6 PodTemplate/tmpl pod=default/tmpl containers=f",
			},
		},
		{
			name: "StatefulSet: the controller's claim volumes replace template volumes of the same name",
			in: `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {}
  volumeClaimTemplates:
  - metadata: {name: data}
  - metadata: {name: logs}
  template:
    spec:
      containers: [{name: pg, image: postgres}]
      volumes:
      - {name: logs, emptyDir: {}}
      - {name: config, configMap: {name: pg}}
`,
			want: []string{"m.yaml#1 StatefulSet/db pod=default/db containers=pg volumes=data=pvc:data-db-0,logs=pvc:logs-db-0,config=configMap"},
		},
		{
			name: "StatefulSet with a start ordinal",
			in: `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  selector: {}
  ordinals: {start: 3}
  volumeClaimTemplates: [{metadata: {name: data}}]
  template: {spec: {containers: [{name: pg, image: postgres}]}}
`,
			want: []string{"m.yaml#1 StatefulSet/db pod=default/db containers=pg volumes=data=pvc:data-db-3"},
		},
		{
			name:      "default namespace from the caller, object namespace wins",
			namespace: "team-a",
			in: `apiVersion: v1
kind: Pod
metadata: {name: a}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: team-b}
spec: {containers: [{name: c, image: i}]}
`,
			want: []string{
				"m.yaml#1 Pod/a pod=team-a/a containers=c",
				"m.yaml#2 Pod/b pod=team-b/b containers=c",
			},
		},
		{
			name: "kinds without pod templates are skipped, custom Job kinds too",
			in: `apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: b}
---
apiVersion: batch.volcano.sh/v1alpha1
kind: Job
metadata: {name: train}
spec: {whatever: true}
---
apiVersion: example.com/v1
kind: Widget
metadata: {generateName: w-}
`,
			wantSkipped: []string{
				"m.yaml#1 v1 Service web",
				"m.yaml#2 v1 ConfigMap cfg",
				"m.yaml#3 batch.volcano.sh/v1alpha1 Job train",
				"m.yaml#4 example.com/v1 Widget w-",
			},
		},
		{
			name: "empty and comment-only documents are ignored but counted; adjacent markers add none",
			in: `# leading comment, a document of its own as kubectl's reader splits
---
# only a comment
---

---
apiVersion: v1
kind: Pod
metadata: {name: a}
spec: {containers: [{name: c, image: i}]}
---
---
null
--- # a comment on the marker
apiVersion: v1
kind: Pod
metadata: {name: b}
spec: {containers: [{name: c, image: i}]}
---
`,
			want: []string{
				"m.yaml#4 Pod/a pod=default/a containers=c",
				"m.yaml#6 Pod/b pod=default/b containers=c",
			},
		},
		{
			name: "leading marker adds no document",
			in: `---
apiVersion: v1
kind: Pod
metadata: {name: a}
spec: {containers: [{name: c, image: i}]}
`,
			want: []string{"m.yaml#1 Pod/a pod=default/a containers=c"},
		},
		{
			name: "document before the first marker counts; ... ends a document and what follows it up to --- is ignored, as by kubectl",
			in: `apiVersion: v1
kind: Service
metadata: {name: s}
...
apiVersion: v1
kind: Pod
metadata: {name: ignored}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: a}
spec: {containers: [{name: c, image: i}]}
`,
			want:        []string{"m.yaml#2 Pod/a pod=default/a containers=c"},
			wantSkipped: []string{"m.yaml#1 v1 Service s"},
		},
		{
			name: "empty input",
			in:   "",
		},
		{
			name: "comments only",
			in:   "# nothing here\n\n",
		},
		{
			name: "v1 List is expanded in order, with the List's document number",
			in: `apiVersion: v1
kind: ConfigMap
metadata: {name: first}
---
apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web}
  spec: {selector: {}, template: {spec: {containers: [{name: a, image: i}]}}}
- apiVersion: v1
  kind: Service
  metadata: {name: web}
- apiVersion: v1
  kind: List
  items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: nested}
    spec: {containers: [{name: b, image: i}]}
`,
			want: []string{
				"m.yaml#2 Deployment/web pod=default/web containers=a",
				"m.yaml#2 Pod/nested pod=default/nested containers=b",
			},
			wantSkipped: []string{"m.yaml#1 v1 ConfigMap first", "m.yaml#2 v1 Service web"},
		},
		{
			name: "typed lists: items without apiVersion and kind take them from the list",
			in: `apiVersion: apps/v1
kind: DeploymentList
metadata: {resourceVersion: "1"}
items:
- metadata: {name: a, namespace: x}
  spec: {selector: {}, template: {spec: {containers: [{name: c, image: i}]}}}
---
apiVersion: v1
kind: PodList
items:
- metadata: {name: p}
  spec: {containers: [{name: c, image: i}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: q}
  spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: ConfigMapList
items: [{metadata: {name: cm}}]
---
apiVersion: v1
kind: List
`,
			want: []string{
				"m.yaml#1 Deployment/a pod=x/a containers=c",
				"m.yaml#2 Pod/p pod=default/p containers=c",
				"m.yaml#2 Pod/q pod=default/q containers=c",
			},
			wantSkipped: []string{"m.yaml#3 v1 ConfigMap cm"},
		},
		{
			name: "a kind ending in List without items is an ordinary kind",
			in: `apiVersion: example.com/v1
kind: AccessList
metadata: {name: acl}
`,
			wantSkipped: []string{"m.yaml#1 example.com/v1 AccessList acl"},
		},
		{
			name:   "JSON object",
			source: "pod.json",
			in: `{
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {"name": "j", "labels": {"a": "b"}},
  "spec": {"containers": [{"name": "c", "image": "i"}]}
}`,
			want: []string{"pod.json#1 Pod/j pod=default/j containers=c labels=a:b"},
		},
		{
			name:   "JSON stream of concatenated objects",
			source: "-",
			in: `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
{"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}`,
			want: []string{
				"-#1 Pod/a pod=default/a containers=c",
				"-#3 Job/j pod=default/j containers=c",
			},
			wantSkipped: []string{"-#2 v1 Service s"},
		},
		{
			name: "JSON object followed by YAML documents",
			in: `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
---
apiVersion: v1
kind: Pod
metadata: {name: b}
spec: {containers: [{name: c, image: i}]}
`,
			want: []string{
				"m.yaml#1 Pod/a pod=default/a containers=c",
				"m.yaml#2 Pod/b pod=default/b containers=c",
			},
		},
		{
			name: "YAML flow mapping that is not JSON",
			in:   `{apiVersion: v1, kind: Pod, metadata: {name: a}, spec: {containers: [{name: c, image: i}]}}`,
			want: []string{"m.yaml#1 Pod/a pod=default/a containers=c"},
		},
		{
			name: "byte order mark and CRLF line ends",
			in:   "\xef\xbb\xbfapiVersion: v1\r\nkind: Pod\r\nmetadata: {name: a}\r\nspec: {containers: [{name: c, image: i}]}\r\n---\r\napiVersion: v1\r\nkind: Pod\r\nmetadata: {name: b}\r\nspec: {containers: [{name: c, image: i}]}\r\n",
			want: []string{
				"m.yaml#1 Pod/a pod=default/a containers=c",
				"m.yaml#2 Pod/b pod=default/b containers=c",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			source := tt.source
			if source == "" {
				source = "m.yaml"
			}
			objs, skipped, err := Read(strings.NewReader(tt.in), source, tt.namespace)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			var got, gotSkipped []string
			for _, o := range objs {
				got = append(got, summary(o))
			}
			for _, s := range skipped {
				gotSkipped = append(gotSkipped, skippedSummary(s))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("objects:\n  got  %q\n  want %q", got, tt.want)
			}
			if !slices.Equal(gotSkipped, tt.wantSkipped) {
				t.Errorf("skipped:\n  got  %q\n  want %q", gotSkipped, tt.wantSkipped)
			}
		})
	}
}

// TestReadPodSpec checks that the template's spec is carried over whole and not defaulted.
func TestReadPodSpec(t *testing.T) {
	objs, _, err := Read(strings.NewReader(deployment), "deploy.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	pod := objs[0].Pod
	if pod.Kind != "Pod" || pod.APIVersion != "v1" {
		t.Errorf("type meta = %s %s", pod.APIVersion, pod.Kind)
	}
	c := pod.Spec.Containers[0]
	if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
		t.Errorf("privileged lost: %+v", c.SecurityContext)
	}
	if pod.Spec.ServiceAccountName != "" || pod.Spec.SecurityContext != nil || c.ImagePullPolicy != "" {
		t.Errorf("the pod was defaulted; defaulting is package defaulting's job: %+v", pod.Spec)
	}
	if len(pod.OwnerReferences) != 0 {
		t.Errorf("owner references set: %v", pod.OwnerReferences)
	}
}

func TestReadErrors(t *testing.T) {
	valid := "apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec: {containers: [{name: c, image: i}]}\n"
	tests := []struct {
		name   string
		source string
		in     string
		want   string
	}{
		{
			name: "bad YAML, line counted in the document",
			in:   valid + "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n   bad: x\n",
			want: "m.yaml: document 2: invalid YAML: line 5 of the document: mapping values are not allowed in this context",
		},
		{
			name: "duplicate key",
			in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {}\nspec: {}\n",
			want: `m.yaml: document 1: invalid YAML: line 5 of the document: key "spec" already set in map`,
		},
		{
			name: "unterminated flow sequence",
			in:   "---\nx: [\n",
			want: "m.yaml: document 1: invalid YAML: line 2 of the document: did not find expected node content",
		},
		{
			name: "content on the first marker line is rejected, as by kubectl",
			in:   "--- {apiVersion: v1, kind: Pod, metadata: {name: a}, spec: {containers: [{name: c, image: i}]}}\n",
			want: "m.yaml: document 1: invalid Yaml document separator: {apiVersion: v1, kind: Pod, metadata: {name: a}, spec: {containers: [{name: c, image: i}]}}",
		},
		{
			name: "content on a later marker line names the document the reader was reading",
			in:   valid + "---\n" + valid + "--- [a, b\n",
			want: "m.yaml: document 2: invalid Yaml document separator: [a, b",
		},
		{
			name: "wrong type in a known kind",
			in:   valid + "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {template: {spec: {hostNetwork: \"yes\"}}}\n",
			want: "m.yaml: document 2: Deployment: cannot unmarshal string into field spec.template.spec.hostNetwork of type bool",
		},
		{
			name: "unknown field in a known kind",
			in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n    securityContex: {privileged: true}\n",
			want: `m.yaml: document 1: Pod: strict decoding error: unknown field "spec.containers[0].securityContex"`,
		},
		{
			name: "no apiVersion",
			in:   valid + "---\nkind: Deployment\nmetadata: {name: web}\n",
			want: "m.yaml: document 2: Deployment: apiVersion is not set",
		},
		{
			name: "no kind",
			in:   "apiVersion: apps/v1\nmetadata: {name: web}\n",
			want: "m.yaml: document 1: apiVersion apps/v1: kind is not set",
		},
		{
			name: "neither",
			in:   "metadata: {name: web}\n",
			want: "m.yaml: document 1: apiVersion and kind are not set",
		},
		{
			name: "kind is not a string",
			in:   "apiVersion: v1\nkind: [Pod]\n",
			want: `m.yaml: document 1: kind must be a string, not ["Pod"]`,
		},
		{
			name: "document is a scalar",
			in:   "just text\n",
			want: "m.yaml: document 1: not an object: a manifest document must be a mapping with apiVersion and kind",
		},
		{
			name: "document is a sequence",
			in:   "- a\n- b\n",
			want: "m.yaml: document 1: not an object: a manifest document must be a mapping with apiVersion and kind",
		},
		{
			name: "bad apiVersion",
			in:   "apiVersion: a/b/c\nkind: Pod\n",
			want: `m.yaml: document 1: unexpected GroupVersion string: a/b/c`,
		},
		{
			name: "no name",
			in:   "apiVersion: batch/v1\nkind: Job\nmetadata: {namespace: x}\nspec: {template: {spec: {containers: [{name: c, image: i}]}}}\n",
			want: "m.yaml: document 1: Job: metadata.name is not set",
		},
		{
			name: "ReplicationController without a template",
			in:   "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: rc}\nspec: {replicas: 1}\n",
			want: "m.yaml: document 1: ReplicationController rc: spec.template is not set",
		},
		{
			name: "removed apiVersion",
			in:   "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: old}\n",
			want: "m.yaml: document 1: extensions/v1beta1 Deployment is not served by Kubernetes 1.30 and later; use apiVersion apps/v1",
		},
		{
			name: "removed CronJob version",
			in:   "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: old}\n",
			want: "m.yaml: document 1: batch/v1beta1 CronJob is not served by Kubernetes 1.30 and later; use apiVersion batch/v1",
		},
		{
			name: "List item error names the item",
			in: valid + "---\n---\napiVersion: v1\nkind: List\nitems:\n- " + strings.ReplaceAll(strings.TrimSuffix(valid, "\n"), "\n", "\n  ") +
				"\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: b}\n  spec: {hostPID: 1}\n",
			want: "m.yaml: document 2, item 2: Pod: cannot unmarshal number into field spec.hostPID of type bool",
		},
		{
			name: "nested List item",
			in:   "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - {kind: Pod}\n",
			want: "m.yaml: document 1, item 1, item 1: Pod: apiVersion is not set",
		},
		{
			name: "typed list item that is not an object",
			in:   "apiVersion: v1\nkind: PodList\nitems: [3]\n",
			want: "m.yaml: document 1, item 1: not an object: a list item must be a mapping",
		},
		{
			name: "List items not a list",
			in:   "apiVersion: v1\nkind: List\nitems: {a: b}\n",
			want: `m.yaml: document 1: List: items must be a list, not {"a":"b"}`,
		},
		{
			name:   "bad JSON names the document and the line in it",
			source: "-",
			in:     "{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"s\"}}\n{\"apiVersion\": \"v1\",\n \"kind\" \"Pod\"}\n",
			want:   "stdin: document 2: invalid JSON: line 2 of the document: invalid character '\"' after object key",
		},
		{
			name:   "truncated JSON",
			source: "pod.json",
			in:     "{\"apiVersion\": \"v1\",\n\"kind\": \"Pod\"",
			want:   "pod.json: document 1: invalid JSON: unexpected EOF",
		},
		{
			name:   "wrong type in JSON",
			source: "pod.json",
			in:     `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}, "spec": {"containers": 5}}`,
			want:   "pod.json: document 1: Pod: cannot unmarshal number into field spec.containers of type []v1.Container",
		},
		{
			name: "the first error in document order is reported",
			in:   "kind: Pod\n---\nx: [\n",
			want: "m.yaml: document 1: Pod: apiVersion is not set",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			source := tt.source
			if source == "" {
				source = "m.yaml"
			}
			objs, skipped, err := Read(strings.NewReader(tt.in), source, "")
			if err == nil {
				t.Fatalf("no error; objects %d, skipped %d", len(objs), len(skipped))
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n  got  %s\n  want %s", err, tt.want)
			}
			if objs != nil || skipped != nil {
				t.Errorf("objects returned with an error: %d objects, %d skipped", len(objs), len(skipped))
			}
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, fmt.Errorf("disk on fire") }

func TestReadIOError(t *testing.T) {
	_, _, err := Read(failingReader{}, "x.yaml", "")
	if err == nil || err.Error() != "x.yaml: disk on fire" {
		t.Errorf("err = %v", err)
	}
}

// TestReadDoesNotShareTemplates makes sure objects from one document are independent values.
func TestReadDoesNotShareTemplates(t *testing.T) {
	objs, _, err := Read(strings.NewReader(deployment+"---\n"+deployment), "d.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	objs[0].Pod.Spec.Containers[0].Name = "changed"
	if objs[1].Pod.Spec.Containers[0].Name != "nginx" {
		t.Errorf("objects share state")
	}
}
