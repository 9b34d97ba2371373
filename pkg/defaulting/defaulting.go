// Package defaulting changes a pod the way the Kubernetes API server does between receiving it
// and sending it to a validating admission webhook, as far as those changes touch security
// attributes.
//
// Why: the offline `convert` command learns a policy from manifests, but the policy is enforced
// against pods as the webhook sees them at admission. The API server adds a projected
// service-account volume, turns container ports of hostNetwork pods into host ports, copies
// deprecated AppArmor annotations into fields, and so on. A policy learned from the raw
// manifest would miss those and then deny the very pods it was learned from. Apply makes the
// offline pod look like the admitted pod, so both paths observe the same attributes.
//
// The model is Kubernetes v1.37 with default feature gates and the default admission plugins,
// in the order the API server runs them on create:
//
//  1. decoding defaults (k8s.io/kubernetes pkg/apis/core/v1/defaults.go and its generated
//     zz_generated.defaults.go: SetObjectDefaults_Pod, SetDefaults_Pod, SetDefaults_PodSpec,
//     SetDefaults_Volume);
//  2. mutating admission: the built-in ServiceAccount plugin
//     (plugin/pkg/admission/serviceaccount/admission.go); the other default-on mutating
//     plugins (LimitRanger, DefaultTolerationSeconds, Priority, RuntimeClass, …) change only
//     resources, tolerations, priority and scheduling, none of which are security attributes;
//  3. the pod registry strategy's PrepareForCreate (pkg/registry/core/pod/strategy.go), of which
//     only applyAppArmorVersionSkew changes security fields.
//
// Mutating webhooks installed in a cluster (sidecar injectors and the like) are not modelled:
// they are site specific, and the webhook learns their effect from live traffic.
package defaulting

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// Apply mutates pod in place into the pod a validating admission webhook would be sent when the
// pod is created. It is idempotent: applying it to an admitted pod changes nothing that matters.
func Apply(pod *corev1.Pod) {
	if pod == nil {
		return
	}
	defaultPodSpec(&pod.Spec)
	defaultHostNetworkPorts(&pod.Spec)
	defaultPortProtocols(&pod.Spec)
	defaultVolumeSources(&pod.Spec)
	admitServiceAccount(pod)
	applyAppArmorVersionSkew(pod)
}

// defaultPodSpec models the security-relevant part of SetDefaults_PodSpec.
//
//   - spec.serviceAccount (deprecated) and spec.serviceAccountName are kept in sync, the name
//     winning when both are set. The service account decides which token is mounted, and the
//     ServiceAccount admission plugin only reads serviceAccountName.
//   - An absent pod securityContext becomes an empty one. This changes no effective value, but
//     it is what the admitted pod carries, so offline and admitted pods compare equal.
//
// The other PodSpec defaults (dnsPolicy, restartPolicy, schedulerName,
// terminationGracePeriodSeconds) have no bearing on security and are left alone.
func defaultPodSpec(spec *corev1.PodSpec) {
	//nolint:staticcheck // DeprecatedServiceAccount is read and written on purpose, as the API server does.
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = spec.DeprecatedServiceAccount
	}
	spec.DeprecatedServiceAccount = spec.ServiceAccountName //nolint:staticcheck // see above
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
}

// defaultHostNetworkPorts models defaultHostNetworkPorts, called from SetDefaults_Pod: in a
// hostNetwork pod every port a container opens is a port on the node, so each container and
// init container port without a hostPort gets hostPort = containerPort. The admitted pod
// therefore asks for host ports the manifest never mentions, and a policy must allow them.
//
// Ephemeral containers are not touched (they may not declare ports), and only Pod objects get
// this default, not pod templates, which is why it matters offline: a Deployment's template
// shows hostPort 0, the pods the ReplicaSet creates do not.
func defaultHostNetworkPorts(spec *corev1.PodSpec) {
	if !spec.HostNetwork {
		return
	}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			for j := range cs[i].Ports {
				if p := &cs[i].Ports[j]; p.HostPort == 0 {
					p.HostPort = p.ContainerPort
				}
			}
		}
	}
}

// defaultPortProtocols models the generated default protocol: TCP for every container port
// (init, regular and ephemeral containers) that names none. Host ports are reserved per
// protocol, so the admitted pod always names one.
func defaultPortProtocols(spec *corev1.PodSpec) {
	setTCP := func(ports []corev1.ContainerPort) {
		for j := range ports {
			if ports[j].Protocol == "" {
				ports[j].Protocol = corev1.ProtocolTCP
			}
		}
	}
	for i := range spec.InitContainers {
		setTCP(spec.InitContainers[i].Ports)
	}
	for i := range spec.Containers {
		setTCP(spec.Containers[i].Ports)
	}
	for i := range spec.EphemeralContainers {
		setTCP(spec.EphemeralContainers[i].Ports)
	}
}

// defaultVolumeSources models SetDefaults_Volume: a volume that names no source at all is an
// emptyDir. Volume types are a policy attribute (PodSecurityPolicy `volumes`, the restricted
// Pod Security Standard), so a source-less volume must count as emptyDir, as it is admitted.
func defaultVolumeSources(spec *corev1.PodSpec) {
	for i := range spec.Volumes {
		if isZeroVolumeSource(&spec.Volumes[i].VolumeSource) {
			spec.Volumes[i].EmptyDir = &corev1.EmptyDirVolumeSource{}
		}
	}
}

func isZeroVolumeSource(vs *corev1.VolumeSource) bool {
	// Every field of VolumeSource is a pointer to one source kind; the zero value sets none.
	return *vs == corev1.VolumeSource{}
}

// ServiceAccount admission constants, as in plugin/pkg/admission/serviceaccount.
const (
	// DefaultServiceAccountName is the service account a pod that names none runs as.
	DefaultServiceAccountName = "default"
	// TokenVolumePrefix starts the name of the projected token volume; the plugin adds a
	// generated five-character suffix.
	TokenVolumePrefix = "kube-api-access-"
	// TokenVolumeName is the name Apply gives the token volume it adds. The plugin's suffix is
	// random; a fixed one keeps offline output deterministic. The suffix uses only characters
	// of the plugin's name generator alphabet ("bcdfghjklmnpqrstvwxz2456789"), so the name has
	// the same form as a real one.
	TokenVolumeName = TokenVolumePrefix + "ffln2"
	// TokenMountPath is where every container gets the token volume.
	TokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
	// TokenExpirationSeconds is the token lifetime the plugin requests
	// (serviceaccount.WarnOnlyBoundTokenExpirationSeconds: one hour and seven seconds, so the
	// API server can tell these tokens apart from others).
	TokenExpirationSeconds int64 = 60*60 + 7
	// RootCAConfigMap holds the cluster CA bundle published into every namespace.
	RootCAConfigMap = "kube-root-ca.crt"

	mirrorPodAnnotation = "kubernetes.io/config.mirror"
)

// admitServiceAccount models the ServiceAccount admission plugin's Admit on create.
//
// Why it matters: the plugin adds a `projected` volume and a mount of it to every container.
// A policy that does not allow projected volumes denies nearly every pod in a real cluster.
//
// The plugin's rules, as modelled:
//   - Mirror pods (annotation kubernetes.io/config.mirror, static pods the kubelet reports) are
//     left alone: they may not use service accounts.
//   - An empty serviceAccountName becomes "default" (and the deprecated serviceAccount with it).
//   - The token is mounted unless the pod sets automountServiceAccountToken: false. The plugin
//     also honours the service account's own automountServiceAccountToken, which cannot be
//     known offline; Apply assumes it is unset (as on the "default" service account), which
//     allows a projected volume the pod may not use at admission — the safe side, since a
//     policy that allows more never blocks the learned workload.
//   - If a volume named kube-api-access-* already exists, its name is reused and no volume is
//     added (pods copied from a live cluster already carry it). Otherwise the volume is added
//     only if at least one container needed the mount.
//   - Each init container and container that has no volume mount at exactly
//     /var/run/secrets/kubernetes.io/serviceaccount gets a read-only mount of the volume there.
//     Ephemeral containers are not given one.
//   - The volume is projected: a service account token (path "token", 3607 s), the
//     kube-root-ca.crt ConfigMap's ca.crt, and the namespace from the downward API, with
//     defaultMode 0644 set explicitly (as the plugin does).
//
// Image pull secrets copied from the service account are not modelled: they are not a
// security attribute and are unknown offline.
func admitServiceAccount(pod *corev1.Pod) {
	if _, mirror := pod.Annotations[mirrorPodAnnotation]; mirror {
		return
	}
	spec := &pod.Spec
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = DefaultServiceAccountName
		spec.DeprecatedServiceAccount = DefaultServiceAccountName //nolint:staticcheck // kept in sync, as the plugin does
	}
	if spec.AutomountServiceAccountToken != nil && !*spec.AutomountServiceAccountToken {
		return
	}

	volumeName, haveVolume := "", false
	for _, v := range spec.Volumes {
		if strings.HasPrefix(v.Name, TokenVolumePrefix) {
			volumeName, haveVolume = v.Name, true
			break
		}
	}
	if !haveVolume {
		volumeName = TokenVolumeName
	}

	mount := corev1.VolumeMount{Name: volumeName, ReadOnly: true, MountPath: TokenMountPath}
	needed := false
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			if !mountsPath(&cs[i], TokenMountPath) {
				cs[i].VolumeMounts = append(cs[i].VolumeMounts, mount)
				needed = true
			}
		}
	}
	if needed && !haveVolume {
		spec.Volumes = append(spec.Volumes, corev1.Volume{
			Name:         volumeName,
			VolumeSource: corev1.VolumeSource{Projected: TokenVolumeSource()},
		})
	}
}

// mountsPath reports whether c already mounts something at exactly path (the plugin compares
// the strings as they are, without cleaning them).
func mountsPath(c *corev1.Container, path string) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath == path {
			return true
		}
	}
	return false
}

// TokenVolumeSource returns the projected volume source the ServiceAccount plugin mounts.
func TokenVolumeSource() *corev1.ProjectedVolumeSource {
	mode := corev1.ProjectedVolumeSourceDefaultMode
	expiration := TokenExpirationSeconds
	return &corev1.ProjectedVolumeSource{
		DefaultMode: &mode,
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				Path:              "token",
				ExpirationSeconds: &expiration,
			}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: RootCAConfigMap},
				Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
			}},
			{DownwardAPI: &corev1.DownwardAPIProjection{
				Items: []corev1.DownwardAPIVolumeFile{{
					Path:     "namespace",
					FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
				}},
			}},
		},
	}
}

// applyAppArmorVersionSkew models the pod strategy's applyAppArmorVersionSkew (PrepareForCreate,
// Kubernetes 1.30+): the deprecated annotation
// container.apparmor.security.beta.kubernetes.io/<container> is copied into that container's
// securityContext.appArmorProfile, so validating admission (Pod Security admission among
// others) sees the profile in the field.
//
// The rules, as in v1.37:
//   - Windows pods (spec.os.name: windows) are left alone.
//   - Init, regular and ephemeral containers are all visited.
//   - Only a container with the annotation and no appArmorProfile field is changed; a field
//     that is already set wins over the annotation.
//   - "runtime/default" → RuntimeDefault, "unconfined" → Unconfined, "localhost/<name>" →
//     Localhost <name>. An unknown value, an empty name, a name padded with whitespace or
//     longer than 4095 bytes is not copied (validation would reject the field).
//   - The field is not set when it would equal the pod-level appArmorProfile, which the
//     container inherits anyway.
//
// The reverse direction (field → annotation) is no longer done by the API server in v1.37, and
// the annotations themselves stay on the pod.
func applyAppArmorVersionSkew(pod *corev1.Pod) {
	if pod.Spec.OS != nil && pod.Spec.OS.Name == corev1.Windows {
		return
	}
	var podProfile *corev1.AppArmorProfile
	if pod.Spec.SecurityContext != nil {
		podProfile = pod.Spec.SecurityContext.AppArmorProfile
	}
	visit := func(name string, scp **corev1.SecurityContext) {
		annotation, ok := pod.Annotations[corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix+name]
		if !ok {
			return
		}
		if *scp != nil && (*scp).AppArmorProfile != nil {
			return
		}
		profile, ok := attributes.AppArmorAnnotation(annotation)
		if !ok || equalAppArmorProfiles(profile, podProfile) {
			return
		}
		if *scp == nil {
			*scp = &corev1.SecurityContext{}
		}
		(*scp).AppArmorProfile = profile
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		visit(c.Name, &c.SecurityContext)
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		visit(c.Name, &c.SecurityContext)
	}
	for i := range pod.Spec.EphemeralContainers {
		c := &pod.Spec.EphemeralContainers[i]
		visit(c.Name, &c.SecurityContext)
	}
}

func equalAppArmorProfiles(a, b *corev1.AppArmorProfile) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Type != b.Type {
		return false
	}
	if a.LocalhostProfile == nil || b.LocalhostProfile == nil {
		return a.LocalhostProfile == b.LocalhostProfile
	}
	return *a.LocalhostProfile == *b.LocalhostProfile
}
