package defaulting

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// tokenMount is the mount the ServiceAccount plugin adds when it creates the volume.
var tokenMount = corev1.VolumeMount{Name: TokenVolumeName, ReadOnly: true, MountPath: TokenMountPath}

func tokenVolume(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: TokenVolumeSource()}}
}

func toYAML(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// admitted returns a pod as the tests expect it back after Apply for a pod with one container
// "app" and nothing else of note: defaulted SA, empty pod security context, token mounted.
func admitted(mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec: corev1.PodSpec{
			ServiceAccountName:       "default",
			DeprecatedServiceAccount: "default",
			SecurityContext:          &corev1.PodSecurityContext{},
			Containers:               []corev1.Container{{Name: "app", Image: "app", VolumeMounts: []corev1.VolumeMount{tokenMount}}},
			Volumes:                  []corev1.Volume{tokenVolume(TokenVolumeName)},
		},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

func plain(mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

const aaKey = corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix

func TestApply(t *testing.T) {
	tests := []struct {
		name string
		in   *corev1.Pod
		want *corev1.Pod
	}{
		{
			name: "bare pod gets service account, token volume and mount, empty pod security context",
			in:   plain(nil),
			want: admitted(nil),
		},
		{
			name: "deprecated serviceAccount fills serviceAccountName",
			in:   plain(func(p *corev1.Pod) { p.Spec.DeprecatedServiceAccount = "builder" }),
			want: admitted(func(p *corev1.Pod) {
				p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount = "builder", "builder"
			}),
		},
		{
			name: "serviceAccountName wins over deprecated serviceAccount",
			in: plain(func(p *corev1.Pod) {
				p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount = "a", "b"
			}),
			want: admitted(func(p *corev1.Pod) {
				p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount = "a", "a"
			}),
		},
		{
			name: "existing pod security context is kept",
			in: plain(func(p *corev1.Pod) {
				p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000)}
			}),
			want: admitted(func(p *corev1.Pod) {
				p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000)}
			}),
		},
		{
			name: "automountServiceAccountToken false: no volume, no mount",
			in:   plain(func(p *corev1.Pod) { p.Spec.AutomountServiceAccountToken = ptr.To(false) }),
			want: admitted(func(p *corev1.Pod) {
				p.Spec.AutomountServiceAccountToken = ptr.To(false)
				p.Spec.Volumes = nil
				p.Spec.Containers[0].VolumeMounts = nil
			}),
		},
		{
			name: "automountServiceAccountToken true mounts",
			in:   plain(func(p *corev1.Pod) { p.Spec.AutomountServiceAccountToken = ptr.To(true) }),
			want: admitted(func(p *corev1.Pod) { p.Spec.AutomountServiceAccountToken = ptr.To(true) }),
		},
		{
			name: "init containers get the mount, ephemeral containers do not",
			in: plain(func(p *corev1.Pod) {
				p.Spec.InitContainers = []corev1.Container{{Name: "init"}}
				p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug"}}}
			}),
			want: admitted(func(p *corev1.Pod) {
				p.Spec.InitContainers = []corev1.Container{{Name: "init", VolumeMounts: []corev1.VolumeMount{tokenMount}}}
				p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug"}}}
			}),
		},
		{
			name: "container that already mounts the token path is skipped",
			in: plain(func(p *corev1.Pod) {
				p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "own", VolumeMounts: []corev1.VolumeMount{{Name: "mine", MountPath: TokenMountPath}}})
				p.Spec.Volumes = []corev1.Volume{{Name: "mine", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}}}
			}),
			want: admitted(func(p *corev1.Pod) {
				p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "own", VolumeMounts: []corev1.VolumeMount{{Name: "mine", MountPath: TokenMountPath}}})
				p.Spec.Volumes = []corev1.Volume{
					{Name: "mine", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}},
					tokenVolume(TokenVolumeName),
				}
			}),
		},
		{
			name: "mount path compared as written: a trailing slash is a different path",
			in: plain(func(p *corev1.Pod) {
				p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "e", MountPath: TokenMountPath + "/"}}
				p.Spec.Volumes = []corev1.Volume{{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			}),
			want: admitted(func(p *corev1.Pod) {
				p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "e", MountPath: TokenMountPath + "/"}, tokenMount}
				p.Spec.Volumes = []corev1.Volume{{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}, tokenVolume(TokenVolumeName)}
			}),
		},
		{
			name: "every container mounts the path itself: no volume added",
			in: plain(func(p *corev1.Pod) {
				p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "e", MountPath: TokenMountPath}}
				p.Spec.Volumes = []corev1.Volume{{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			}),
			want: admitted(func(p *corev1.Pod) {
				p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "e", MountPath: TokenMountPath}}
				p.Spec.Volumes = []corev1.Volume{{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			}),
		},
		{
			name: "existing kube-api-access volume is reused, not duplicated",
			in: plain(func(p *corev1.Pod) {
				p.Spec.Volumes = []corev1.Volume{tokenVolume("kube-api-access-abcde")}
			}),
			want: admitted(func(p *corev1.Pod) {
				p.Spec.Volumes = []corev1.Volume{tokenVolume("kube-api-access-abcde")}
				p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "kube-api-access-abcde", ReadOnly: true, MountPath: TokenMountPath}}
			}),
		},
		{
			name: "mirror pods are not given a service account",
			in: plain(func(p *corev1.Pod) {
				p.Annotations = map[string]string{"kubernetes.io/config.mirror": "hash"}
			}),
			want: admitted(func(p *corev1.Pod) {
				p.Annotations = map[string]string{"kubernetes.io/config.mirror": "hash"}
				p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount = "", ""
				p.Spec.Volumes = nil
				p.Spec.Containers[0].VolumeMounts = nil
			}),
		},
		{
			name: "hostNetwork: container and init ports get hostPort = containerPort, protocol TCP",
			in: plain(func(p *corev1.Pod) {
				p.Spec.HostNetwork = true
				p.Spec.InitContainers = []corev1.Container{{Name: "init", Ports: []corev1.ContainerPort{{ContainerPort: 9000}}}}
				p.Spec.Containers[0].Ports = []corev1.ContainerPort{
					{ContainerPort: 8080},
					{ContainerPort: 53, Protocol: corev1.ProtocolUDP},
					{ContainerPort: 9090, HostPort: 19090},
				}
			}),
			want: admitted(func(p *corev1.Pod) {
				p.Spec.HostNetwork = true
				p.Spec.InitContainers = []corev1.Container{{
					Name:         "init",
					Ports:        []corev1.ContainerPort{{ContainerPort: 9000, HostPort: 9000, Protocol: corev1.ProtocolTCP}},
					VolumeMounts: []corev1.VolumeMount{tokenMount},
				}}
				p.Spec.Containers[0].Ports = []corev1.ContainerPort{
					{ContainerPort: 8080, HostPort: 8080, Protocol: corev1.ProtocolTCP},
					{ContainerPort: 53, HostPort: 53, Protocol: corev1.ProtocolUDP},
					{ContainerPort: 9090, HostPort: 19090, Protocol: corev1.ProtocolTCP},
				}
			}),
		},
		{
			name: "no hostNetwork: hostPort stays 0, protocol still defaults",
			in: plain(func(p *corev1.Pod) {
				p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
				p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
					Name: "debug", Ports: []corev1.ContainerPort{{ContainerPort: 1}},
				}}}
			}),
			want: admitted(func(p *corev1.Pod) {
				p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}
				p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
					Name: "debug", Ports: []corev1.ContainerPort{{ContainerPort: 1, Protocol: corev1.ProtocolTCP}},
				}}}
			}),
		},
		{
			name: "volume without a source is an emptyDir",
			in: plain(func(p *corev1.Pod) {
				p.Spec.Volumes = []corev1.Volume{{Name: "scratch"}, {Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}}}
			}),
			want: admitted(func(p *corev1.Pod) {
				p.Spec.Volumes = []corev1.Volume{
					{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}},
					tokenVolume(TokenVolumeName),
				}
			}),
		},
		{
			name: "procMount is not defaulted (no SetDefaults_SecurityContext in v1.37)",
			in: plain(func(p *corev1.Pod) {
				p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(false)}
			}),
			want: admitted(func(p *corev1.Pod) {
				p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(false)}
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.DeepCopy()
			Apply(got)
			if !equality.Semantic.DeepEqual(got, tt.want) {
				t.Errorf("Apply mismatch:\nwant:\n%s\ngot:\n%s", toYAML(tt.want), toYAML(got))
			}
			again := got.DeepCopy()
			Apply(again)
			if !equality.Semantic.DeepEqual(again, got) {
				t.Errorf("Apply is not idempotent:\nonce:\n%s\ntwice:\n%s", toYAML(got), toYAML(again))
			}
		})
	}
}

func TestApplyAppArmor(t *testing.T) {
	localhost := func(name string) *corev1.AppArmorProfile {
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: ptr.To(name)}
	}
	runtimeDefault := &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}
	unconfined := &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}

	tests := []struct {
		name        string
		annotations map[string]string
		podProfile  *corev1.AppArmorProfile
		ctrSC       *corev1.SecurityContext
		windows     bool
		want        *corev1.AppArmorProfile // the container's profile after Apply
	}{
		{name: "no annotation", want: nil},
		{name: "runtime/default", annotations: map[string]string{aaKey + "app": "runtime/default"}, want: runtimeDefault},
		{name: "unconfined", annotations: map[string]string{aaKey + "app": "unconfined"}, want: unconfined},
		{name: "localhost profile", annotations: map[string]string{aaKey + "app": "localhost/k8s-nginx"}, want: localhost("k8s-nginx")},
		{name: "annotation for another container", annotations: map[string]string{aaKey + "other": "unconfined"}, want: nil},
		{name: "empty localhost name is not copied", annotations: map[string]string{aaKey + "app": "localhost/"}, want: nil},
		{name: "padded localhost name is not copied", annotations: map[string]string{aaKey + "app": "localhost/ x"}, want: nil},
		{name: "overlong localhost name is not copied", annotations: map[string]string{aaKey + "app": "localhost/" + strings.Repeat("a", 4096)}, want: nil},
		{name: "longest localhost name is copied", annotations: map[string]string{aaKey + "app": "localhost/" + strings.Repeat("a", 4095)}, want: localhost(strings.Repeat("a", 4095))},
		{name: "unknown value is not copied", annotations: map[string]string{aaKey + "app": "docker-default"}, want: nil},
		{
			name:        "field already set wins",
			annotations: map[string]string{aaKey + "app": "unconfined"},
			ctrSC:       &corev1.SecurityContext{AppArmorProfile: runtimeDefault},
			want:        runtimeDefault,
		},
		{
			name:        "existing security context is kept and extended",
			annotations: map[string]string{aaKey + "app": "unconfined"},
			ctrSC:       &corev1.SecurityContext{RunAsUser: ptr.To[int64](5)},
			want:        unconfined,
		},
		{
			name:        "equal to pod-level profile: not copied",
			annotations: map[string]string{aaKey + "app": "localhost/p"},
			podProfile:  localhost("p"),
			want:        nil,
		},
		{
			name:        "different from pod-level profile: copied",
			annotations: map[string]string{aaKey + "app": "unconfined"},
			podProfile:  runtimeDefault,
			want:        unconfined,
		},
		{
			name:        "windows pods are skipped",
			annotations: map[string]string{aaKey + "app": "unconfined"},
			windows:     true,
			want:        nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := plain(func(p *corev1.Pod) {
				p.Annotations = tt.annotations
				p.Spec.Containers[0].SecurityContext = tt.ctrSC.DeepCopy()
				if tt.podProfile != nil {
					p.Spec.SecurityContext = &corev1.PodSecurityContext{AppArmorProfile: tt.podProfile.DeepCopy()}
				}
				if tt.windows {
					p.Spec.OS = &corev1.PodOS{Name: corev1.Windows}
				}
			})
			Apply(pod)
			var got *corev1.AppArmorProfile
			if sc := pod.Spec.Containers[0].SecurityContext; sc != nil {
				got = sc.AppArmorProfile
			}
			if !equality.Semantic.DeepEqual(got, tt.want) {
				t.Errorf("container appArmorProfile = %v, want %v", got, tt.want)
			}
			if tt.ctrSC == nil && tt.want == nil && pod.Spec.Containers[0].SecurityContext != nil {
				t.Errorf("security context created without a profile: %v", pod.Spec.Containers[0].SecurityContext)
			}
			if tt.ctrSC != nil && tt.ctrSC.RunAsUser != nil && pod.Spec.Containers[0].SecurityContext.RunAsUser == nil {
				t.Errorf("existing security context fields were lost")
			}
			if got, want := pod.Annotations, tt.annotations; !equality.Semantic.DeepEqual(got, want) {
				t.Errorf("annotations changed: %v, want %v", got, want)
			}
		})
	}
}

func TestApplyAppArmorAllContainerKinds(t *testing.T) {
	pod := plain(func(p *corev1.Pod) {
		p.Annotations = map[string]string{
			aaKey + "init":  "unconfined",
			aaKey + "app":   "runtime/default",
			aaKey + "debug": "localhost/dbg",
		}
		p.Spec.InitContainers = []corev1.Container{{Name: "init"}}
		p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug"}}}
	})
	Apply(pod)
	for name, sc := range map[string]*corev1.SecurityContext{
		"init":  pod.Spec.InitContainers[0].SecurityContext,
		"app":   pod.Spec.Containers[0].SecurityContext,
		"debug": pod.Spec.EphemeralContainers[0].SecurityContext,
	} {
		if sc == nil || sc.AppArmorProfile == nil {
			t.Errorf("%s: no appArmorProfile copied from the annotation", name)
		}
	}
}

func TestApplyNil(t *testing.T) {
	Apply(nil) // must not panic
}

func TestTokenVolumeName(t *testing.T) {
	suffix := strings.TrimPrefix(TokenVolumeName, TokenVolumePrefix)
	if len(suffix) != 5 || strings.Trim(suffix, "bcdfghjklmnpqrstvwxz2456789") != "" {
		t.Errorf("suffix %q is not five characters of the generator alphabet", suffix)
	}
}

// TestTokenVolumeSource pins the projected volume to what the ServiceAccount plugin adds in
// v1.37, written out literally rather than through the constants.
func TestTokenVolumeSource(t *testing.T) {
	const want = `defaultMode: 420
sources:
- serviceAccountToken:
    expirationSeconds: 3607
    path: token
- configMap:
    items:
    - key: ca.crt
      path: ca.crt
    name: kube-root-ca.crt
- downwardAPI:
    items:
    - fieldRef:
        apiVersion: v1
        fieldPath: metadata.namespace
      path: namespace
`
	if got := toYAML(TokenVolumeSource()); got != want {
		t.Errorf("TokenVolumeSource:\n%s\nwant:\n%s", got, want)
	}
	if TokenMountPath != "/var/run/secrets/kubernetes.io/serviceaccount" {
		t.Errorf("TokenMountPath = %q", TokenMountPath)
	}
}
