package attributes

import (
	"encoding/json"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"
)

// FuzzObserve feeds arbitrary pods, decoded from JSON and from YAML, to Observe: it must not
// panic, must not modify the pod, and must return a canonical profile (one Join leaves as is)
// within the bounds.
func FuzzObserve(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"spec":{"containers":[{"name":"app","image":"nginx"}]}}`,
		`{"metadata":{"name":"p","annotations":{"container.apparmor.security.beta.kubernetes.io/app":"localhost/x"}},
		  "spec":{"hostNetwork":true,"hostPID":true,"hostUsers":false,
		    "securityContext":{"runAsUser":1000,"runAsNonRoot":true,"fsGroup":2000,"supplementalGroups":[1,2,3],
		      "sysctls":[{"name":"net.core.somaxconn","value":"1024"}],"seccompProfile":{"type":"RuntimeDefault"},
		      "seLinuxOptions":{"level":"s0:c1,c2"},"windowsOptions":{"hostProcess":false}},
		    "volumes":[{"name":"logs","hostPath":{"path":"/var/log/"}},{"name":"c","csi":{"driver":"d.csi"}},
		      {"name":"f","flexVolume":{"driver":"x/y"}},{"name":"cm","configMap":{"name":"cm"}}],
		    "initContainers":[{"name":"init","securityContext":{"privileged":true,"capabilities":{"add":["cap_net_admin"]}}}],
		    "containers":[{"name":"app","ports":[{"containerPort":80,"hostPort":80},{"containerPort":81,"hostPort":0}],
		      "volumeMounts":[{"name":"logs","mountPath":"/l","readOnly":true}],
		      "securityContext":{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"procMount":"Unmasked",
		        "capabilities":{"drop":["all"]},"seccompProfile":{"type":"Localhost","localhostProfile":"p.json"},
		        "appArmorProfile":{"type":"Unconfined"}},
		      "livenessProbe":{"httpGet":{"host":"10.0.0.1","port":80}},
		      "lifecycle":{"preStop":{"tcpSocket":{"host":"db","port":5432}}}}],
		    "ephemeralContainers":[{"name":"debug","securityContext":{"runAsUser":0}}]}}`,
		`{"spec":{"securityContext":{"runAsUser":9223372036854775807},"containers":[{"name":"a"},{"name":"b","securityContext":{"runAsUser":9223372036854775807}}]}}`,
		`{"spec":{"containers":[{"name":"a","securityContext":{"seLinuxOptions":{"user":"a:b"}}},{"name":"b","securityContext":{"seLinuxOptions":{"user":"a","role":"b:"}}}]}}`,
		"spec:\n  hostIPC: true\n  volumes:\n  - name: h\n    hostPath: {path: /data}\n  containers:\n  - name: app\n    volumeMounts: [{name: h, mountPath: /d}]\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fromJSON corev1.Pod
		if json.Unmarshal(data, &fromJSON) == nil {
			checkObserve(t, &fromJSON)
		}
		var fromYAML corev1.Pod
		if yaml.Unmarshal(data, &fromYAML) == nil {
			checkObserve(t, &fromYAML)
		}
	})
}

func checkObserve(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	before := pod.DeepCopy()
	p := Observe(pod)
	if !equality.Semantic.DeepEqual(pod, before) {
		t.Fatalf("Observe modified the pod")
	}
	if again := Observe(pod); !reflect.DeepEqual(again, p) {
		t.Fatalf("Observe is not deterministic:\n%+v\n%+v", p, again)
	}
	checkBounds(t, p)
	if got := Join(p, p); !reflect.DeepEqual(got, p) {
		t.Fatalf("Join(p, p) != p:\n got %+v\nwant %+v", got, p)
	}
	if got := Join(p, Profile{}); !reflect.DeepEqual(got, p) {
		t.Fatalf("Join(p, zero) != p:\n got %+v\nwant %+v", got, p)
	}
	if _, err := json.Marshal(p); err != nil {
		t.Fatalf("marshal profile: %v", err)
	}
}
