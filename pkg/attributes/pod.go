package attributes

import (
	corev1 "k8s.io/api/core/v1"
)

// Pod is a pod with the effective security context of each of its containers resolved.
type Pod struct {
	*corev1.Pod
	// Containers holds init, regular and ephemeral containers alike: all of them run on the node.
	Containers []Container
}

// Container is one container and its effective security context: the pod-level field wherever
// the container does not set the same field itself (the kubelet's rule, field by field).
type Container struct {
	*corev1.Container
	SC corev1.SecurityContext
}

func newPod(pod *corev1.Pod) *Pod {
	p := &Pod{Pod: pod}
	add := func(c *corev1.Container) {
		p.Containers = append(p.Containers, Container{Container: c, SC: effective(pod, c)})
	}
	for i := range pod.Spec.InitContainers {
		add(&pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		add(&pod.Spec.Containers[i])
	}
	for i := range pod.Spec.EphemeralContainers {
		c := corev1.Container(pod.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		add(&c)
	}
	return p
}

// effective merges the pod-level security context into the container's, field by field.
// Fields that exist only on the container (privileged, capabilities, allowPrivilegeEscalation,
// readOnlyRootFilesystem, procMount) are taken as they are.
func effective(pod *corev1.Pod, c *corev1.Container) corev1.SecurityContext {
	var sc corev1.SecurityContext
	if c.SecurityContext != nil {
		sc = *c.SecurityContext
	}
	psc := pod.Spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if sc.RunAsUser == nil {
		sc.RunAsUser = psc.RunAsUser
	}
	if sc.RunAsGroup == nil {
		sc.RunAsGroup = psc.RunAsGroup
	}
	if sc.RunAsNonRoot == nil {
		sc.RunAsNonRoot = psc.RunAsNonRoot
	}
	if sc.SELinuxOptions == nil {
		sc.SELinuxOptions = psc.SELinuxOptions
	}
	if sc.SeccompProfile == nil {
		sc.SeccompProfile = psc.SeccompProfile
	}
	if sc.AppArmorProfile == nil {
		sc.AppArmorProfile = annotatedAppArmor(pod, c.Name)
	}
	if sc.AppArmorProfile == nil {
		sc.AppArmorProfile = psc.AppArmorProfile
	}
	if psc.WindowsOptions != nil {
		w := corev1.WindowsSecurityContextOptions{}
		if sc.WindowsOptions != nil {
			w = *sc.WindowsOptions
		}
		if w.HostProcess == nil {
			w.HostProcess = psc.WindowsOptions.HostProcess
		}
		if w.RunAsUserName == nil {
			w.RunAsUserName = psc.WindowsOptions.RunAsUserName
		}
		if w.GMSACredentialSpecName == nil {
			w.GMSACredentialSpecName = psc.WindowsOptions.GMSACredentialSpecName
		}
		if w.GMSACredentialSpec == nil {
			w.GMSACredentialSpec = psc.WindowsOptions.GMSACredentialSpec
		}
		sc.WindowsOptions = &w
	}
	return sc
}

// annotatedAppArmor reads the deprecated per-container AppArmor annotation, which the kubelet
// still honours when the container has no appArmorProfile field.
func annotatedAppArmor(pod *corev1.Pod, container string) *corev1.AppArmorProfile {
	if len(pod.Annotations) == 0 {
		return nil
	}
	v, ok := pod.Annotations[corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix+container]
	if !ok {
		return nil
	}
	p, valid := AppArmorAnnotation(v)
	if !valid {
		// API validation rejects such a value; record it verbatim rather than drop it.
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileType(v)}
	}
	return p
}
