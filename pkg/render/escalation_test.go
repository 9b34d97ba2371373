package render

import (
	"context"
	"slices"
	"strings"
	"testing"

	admv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/defaulting"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
)

// escalationBase is the restricted web pod with a read-only host path, a flexVolume and a CSI
// volume, and hostUsers: false: the policy learned from it has every restriction.
func escalationBase() *corev1.Pod {
	pod := webPod("default")
	pod.Spec.HostUsers = new(false)
	pod.Spec.Volumes = append(pod.Spec.Volumes,
		corev1.Volume{Name: "logs", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}},
		corev1.Volume{Name: "flex", VolumeSource: corev1.VolumeSource{FlexVolume: &corev1.FlexVolumeSource{Driver: "a/flex"}}},
		corev1.Volume{Name: "csi", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "a.csi"}}})
	c := &pod.Spec.Containers[0]
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "logs", MountPath: "/logs", ReadOnly: true})
	return pod
}

// escalations asks, per restriction, for one privilege more than escalationBase: the one
// attribute's escalation, and nothing else.
var escalations = map[string]func(p *corev1.Pod, c *corev1.Container){
	"hostNetwork": func(p *corev1.Pod, c *corev1.Container) {
		p.Spec.HostNetwork = true
		c.Ports = nil // the API server gives a hostNetwork pod's ports host ports
	},
	"hostPID":                  func(p *corev1.Pod, c *corev1.Container) { p.Spec.HostPID = true },
	"hostIPC":                  func(p *corev1.Pod, c *corev1.Container) { p.Spec.HostIPC = true },
	"hostUsers":                func(p *corev1.Pod, c *corev1.Container) { p.Spec.HostUsers = nil },
	"privileged":               func(p *corev1.Pod, c *corev1.Container) { c.SecurityContext.Privileged = new(true) },
	"allowPrivilegeEscalation": func(p *corev1.Pod, c *corev1.Container) { c.SecurityContext.AllowPrivilegeEscalation = new(true) },
	"addedCapabilities": func(p *corev1.Pod, c *corev1.Container) {
		c.SecurityContext.Capabilities.Add = append(c.SecurityContext.Capabilities.Add, "SYS_ADMIN")
	},
	"dropAll":                func(p *corev1.Pod, c *corev1.Container) { c.SecurityContext.Capabilities.Drop = nil },
	"readOnlyRootFilesystem": func(p *corev1.Pod, c *corev1.Container) { c.SecurityContext.ReadOnlyRootFilesystem = new(false) },
	"runAsNonRoot":           func(p *corev1.Pod, c *corev1.Container) { p.Spec.SecurityContext.RunAsNonRoot = new(false) },
	"runAsUser":              func(p *corev1.Pod, c *corev1.Container) { c.SecurityContext.RunAsUser = new(int64(1001)) },
	"runAsGroup":             func(p *corev1.Pod, c *corev1.Container) { c.SecurityContext.RunAsGroup = new(int64(1001)) },
	"fsGroup":                func(p *corev1.Pod, c *corev1.Container) { p.Spec.SecurityContext.FSGroup = new(int64(2001)) },
	"supplementalGroups":     func(p *corev1.Pod, c *corev1.Container) { p.Spec.SecurityContext.SupplementalGroups = []int64{5} },
	"volumeTypes": func(p *corev1.Pod, c *corev1.Container) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}})
	},
	"hostPaths": func(p *corev1.Pod, c *corev1.Container) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "etc", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc"}}})
	},
	"hostPathReadOnly": func(p *corev1.Pod, c *corev1.Container) { c.VolumeMounts[len(c.VolumeMounts)-1].ReadOnly = false },
	"flexVolumeDrivers": func(p *corev1.Pod, c *corev1.Container) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "flex2", VolumeSource: corev1.VolumeSource{FlexVolume: &corev1.FlexVolumeSource{Driver: "b/flex"}}})
	},
	"csiDrivers": func(p *corev1.Pod, c *corev1.Container) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "csi2", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "b.csi"}}})
	},
	"hostPorts": func(p *corev1.Pod, c *corev1.Container) { c.Ports[0].HostPort = 8080 },
	"sysctls": func(p *corev1.Pod, c *corev1.Container) {
		p.Spec.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "kernel.shm_rmid_forced", Value: "1"}}
	},
	"seccompProfiles": func(p *corev1.Pod, c *corev1.Container) {
		c.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
	},
	"appArmorProfiles": func(p *corev1.Pod, c *corev1.Container) {
		c.SecurityContext.AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
	},
	"seLinuxOptions": func(p *corev1.Pod, c *corev1.Container) {
		c.SecurityContext.SELinuxOptions = &corev1.SELinuxOptions{Type: "spc_t"}
	},
	"procMountTypes": func(p *corev1.Pod, c *corev1.Container) { c.SecurityContext.ProcMount = new(corev1.UnmaskedProcMount) },
	"windowsHostProcess": func(p *corev1.Pod, c *corev1.Container) {
		c.SecurityContext.WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: new(true)}
	},
	"probeHosts": func(p *corev1.Pod, c *corev1.Container) { c.ReadinessProbe.HTTPGet.Host = "10.0.0.1" },
}

// TestEveryRestriction: in both VAP formats, the policy learned from escalationBase compiles,
// admits it, and denies each escalation of one attribute by exactly that attribute's
// validation. Every restriction the renderer can make has an escalation here.
func TestEveryRestriction(t *testing.T) {
	base := escalationBase()
	u := units(build([]seen{{base, owner.Ref{Kind: "Deployment", Name: "web"}, t0}}), ScopeNamespace)[0]
	rs, _ := restrictions(u.Profile)
	var names []string
	for _, r := range rs {
		names = append(names, r.name)
	}
	for _, c := range sharedChecks {
		if !slices.Contains(names, c.name) {
			t.Errorf("the policy learned from escalationBase has no %s restriction", c.name)
		}
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: u.Namespace, Labels: map[string]string{corev1.LabelMetadataName: u.Namespace}}}
	shared, err := learnedNamespace(u)
	if err != nil {
		t.Fatal(err)
	}
	sharedNS := ns.DeepCopy()
	sharedNS.Annotations = shared.Metadata.Annotations
	var sharedNames []string
	for _, c := range sharedChecks {
		sharedNames = append(sharedNames, c.name)
	}
	for _, f := range []struct {
		format string
		policy *admv1.ValidatingAdmissionPolicy
		names  []string // of the validations, in order
		ns     *corev1.Namespace
		all    []string // the validations that every denial fails too
	}{
		{FormatVAP, vapPolicy(u), append([]string{"all"}, names...), ns, []string{"all"}},
		{FormatVAPShared, sharedPolicy(), sharedNames, sharedNS, nil},
	} {
		t.Run(f.format, func(t *testing.T) {
			p, err := compiler.Compile(f.policy)
			if err != nil {
				t.Fatal(err)
			}
			evaluate := func(pod *corev1.Pod) []string {
				pod = pod.DeepCopy()
				defaulting.Apply(pod)
				var denied []string
				for _, d := range p.Evaluate(context.Background(), pod, f.ns) {
					if d.Validation < 0 || d.Error {
						t.Fatalf("%s: %s", pod.Name, d.Message)
					}
					denied = append(denied, f.names[d.Validation])
				}
				return denied
			}
			if d := evaluate(base); len(d) > 0 {
				t.Errorf("the pod learned from is denied by %v", d)
			}
			for _, name := range names {
				escalate, ok := escalations[name]
				if !ok {
					t.Errorf("no escalation of %s", name)
					continue
				}
				pod := base.DeepCopy()
				escalate(pod, &pod.Spec.Containers[0])
				if d := evaluate(pod); !slices.Equal(d, append(slices.Clone(f.all), name)) {
					t.Errorf("escalation of %s: denied by %v", name, d)
				}
			}
		})
	}
}

// TestOneDenialNamesEveryLimit: a pod exceeding several learned limits is denied by the VAP's
// first validation with one message naming each of them (the API server shows only the first
// failing validation's message), within the server's bound on an evaluated message; the
// validations after it fail one per limit.
func TestOneDenialNamesEveryLimit(t *testing.T) {
	base := escalationBase()
	u := units(build([]seen{{base, owner.Ref{Kind: "Deployment", Name: "web"}, t0}}), ScopeNamespace)[0]
	rs, _ := restrictions(u.Profile)
	byName := map[string]restriction{}
	for _, r := range rs {
		byName[r.name] = r
	}
	p, err := compiler.Compile(vapPolicy(u))
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: u.Namespace}}
	exceeded := []string{"privileged", "hostPaths", "hostPorts"}
	pod := base.DeepCopy()
	for _, name := range exceeded {
		escalations[name](pod, &pod.Spec.Containers[0])
	}
	defaulting.Apply(pod)
	denials := p.Evaluate(context.Background(), pod, ns)
	if len(denials) != 1+len(exceeded) || denials[0].Validation != 0 {
		t.Fatalf("denials %+v, want the combined one first and one per exceeded limit", denials)
	}
	msg := denials[0].Message
	t.Logf("combined denial (%d bytes): %s", len(msg), msg)
	for _, name := range exceeded {
		if !strings.Contains(msg, byName[name].exceeded()) {
			t.Errorf("the combined denial does not name %s (%q)", name, byName[name].exceeded())
		}
	}
	for name, r := range byName {
		if !slices.Contains(exceeded, name) && strings.Contains(msg, r.exceeded()) {
			t.Errorf("the combined denial names %s, which the pod is within", name)
		}
	}
	// Every limit exceeded at once still fits the API server's 5 KiB for an evaluated message.
	var all []string
	for _, r := range rs {
		all = append(all, r.exceeded())
	}
	if n := len("the pod exceeds the limits learned " + u.where() + ": " + strings.Join(all, "; ") + "; " + u.learnedFrom()); n > 5<<10 {
		t.Errorf("with every limit exceeded the combined message would be %d bytes, over 5 KiB", n)
	}
}
