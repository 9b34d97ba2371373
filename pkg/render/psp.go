package render

import (
	"io"
	"math"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/policy"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// The policy/v1beta1 PodSecurityPolicy, reduced to the fields we fill (k8s.io/api dropped the
// type when Kubernetes 1.25 removed PSP).
type (
	podSecurityPolicy struct {
		APIVersion string      `json:"apiVersion"`
		Kind       string      `json:"kind"`
		Metadata   pspMetadata `json:"metadata"`
		Spec       pspSpec     `json:"spec"`
	}
	pspMetadata struct {
		Name        string            `json:"name"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	pspSpec struct {
		Privileged                      bool          `json:"privileged"`
		AllowedCapabilities             []string      `json:"allowedCapabilities,omitempty"`
		RequiredDropCapabilities        []string      `json:"requiredDropCapabilities,omitempty"`
		Volumes                         []string      `json:"volumes,omitempty"`
		HostNetwork                     bool          `json:"hostNetwork"`
		HostPorts                       []pspRange    `json:"hostPorts,omitempty"`
		HostPID                         bool          `json:"hostPID"`
		HostIPC                         bool          `json:"hostIPC"`
		SELinux                         pspSELinux    `json:"seLinux"`
		RunAsUser                       pspIDStrategy `json:"runAsUser"`
		RunAsGroup                      pspIDStrategy `json:"runAsGroup"`
		SupplementalGroups              pspIDStrategy `json:"supplementalGroups"`
		FSGroup                         pspIDStrategy `json:"fsGroup"`
		ReadOnlyRootFilesystem          bool          `json:"readOnlyRootFilesystem"`
		DefaultAllowPrivilegeEscalation bool          `json:"defaultAllowPrivilegeEscalation"`
		AllowPrivilegeEscalation        bool          `json:"allowPrivilegeEscalation"`
		AllowedHostPaths                []pspHostPath `json:"allowedHostPaths,omitempty"`
		AllowedFlexVolumes              []pspDriver   `json:"allowedFlexVolumes,omitempty"`
		AllowedCSIDrivers               []pspCSI      `json:"allowedCSIDrivers,omitempty"`
		AllowedUnsafeSysctls            []string      `json:"allowedUnsafeSysctls,omitempty"`
		AllowedProcMountTypes           []string      `json:"allowedProcMountTypes,omitempty"`
	}
	pspRange struct {
		Min int64 `json:"min"`
		Max int64 `json:"max"`
	}
	pspIDStrategy struct {
		Rule   string     `json:"rule"`
		Ranges []pspRange `json:"ranges,omitempty"`
	}
	pspSELinux struct {
		Rule           string                 `json:"rule"`
		SELinuxOptions *corev1.SELinuxOptions `json:"seLinuxOptions,omitempty"`
	}
	pspHostPath struct {
		PathPrefix string `json:"pathPrefix"`
		ReadOnly   bool   `json:"readOnly"`
	}
	pspDriver struct {
		Driver string `json:"driver"`
	}
	pspCSI struct {
		Name string `json:"name"`
	}
)

// PSP annotations for the profiles it has no fields for, and PSP's wildcard.
const (
	pspAny             = "*"
	pspSeccompAllowed  = "seccomp.security.alpha.kubernetes.io/allowedProfileNames"
	pspAppArmorAllowed = "apparmor.security.beta.kubernetes.io/allowedProfileNames"
)

// renderPSP writes a PodSecurityPolicy per unit, for clusters older than 1.25 and for teams
// moving from PSP-based tooling.
func renderPSP(w io.Writer, us []*unit, scope string) error {
	s := &stream{w: w}
	s.comment(
		"PodSecurityPolicies (policy/v1beta1, removed in Kubernetes 1.25) learned by pod-security-advisor,",
		"one per "+scopeNoun(scope)+". PSP cannot express hostUsers, Windows HostProcess, probe hosts",
		"or several SELinux contexts; the ValidatingAdmissionPolicy format can.",
	)
	for _, u := range us {
		s.doc(psp(u), evidenceComment(u)...)
	}
	return s.err
}

func psp(u *unit) *podSecurityPolicy {
	p := u.Profile
	spec := pspSpec{
		Privileged:                      p.Privileged,
		AllowedCapabilities:             p.AddedCapabilities, // already normalised and sorted
		Volumes:                         p.VolumeTypes,
		HostNetwork:                     p.HostNetwork,
		HostPorts:                       pspRanges(p.HostPorts, 1, math.MaxUint16),
		HostPID:                         p.HostPID,
		HostIPC:                         p.HostIPC,
		SELinux:                         pspSELinuxStrategy(p.SELinuxOptions),
		RunAsUser:                       pspRunAsUser(p),
		RunAsGroup:                      pspGroupStrategy(p.RunAsGroup),
		SupplementalGroups:              pspGroupStrategy(attributes.IDs{Values: p.SupplementalGroups, Unset: true}),
		FSGroup:                         pspGroupStrategy(p.FSGroup),
		ReadOnlyRootFilesystem:          !p.WritableRootFilesystem,
		DefaultAllowPrivilegeEscalation: p.AllowPrivilegeEscalation,
		AllowPrivilegeEscalation:        p.AllowPrivilegeEscalation,
		AllowedProcMountTypes:           p.ProcMountTypes,
	}
	// An attribute widened to any value: "*" where PSP has a wildcard; an empty list of host
	// paths, flexVolume or CSI drivers allows any; SELinux is RunAsAny with no options.
	if p.AnyValue.Has(attributes.AnyAddedCapabilities) {
		spec.AllowedCapabilities = []string{pspAny}
	}
	if p.AnyValue.Has(attributes.AnyVolumeTypes) {
		spec.Volumes = []string{pspAny}
	}
	if p.AnyValue.Has(attributes.AnyProcMountTypes) {
		spec.AllowedProcMountTypes = []string{string(corev1.DefaultProcMount), string(corev1.UnmaskedProcMount)}
	}
	if !p.KeepsDefaultCapabilities {
		spec.RequiredDropCapabilities = []string{"ALL"}
	}
	for _, h := range p.HostPaths {
		spec.AllowedHostPaths = append(spec.AllowedHostPaths, pspHostPath{PathPrefix: h.Path, ReadOnly: h.ReadOnly})
	}
	for _, d := range p.FlexVolumeDrivers {
		spec.AllowedFlexVolumes = append(spec.AllowedFlexVolumes, pspDriver{d})
	}
	for _, d := range p.CSIDrivers {
		spec.AllowedCSIDrivers = append(spec.AllowedCSIDrivers, pspCSI{d})
	}
	for _, name := range p.Sysctls {
		if !safeSysctl(name) {
			spec.AllowedUnsafeSysctls = append(spec.AllowedUnsafeSysctls, name)
		}
	}
	if p.AnyValue.Has(attributes.AnySysctls) {
		spec.AllowedUnsafeSysctls = []string{pspAny}
	}
	annotations := map[string]string{}
	// PSP always admits a pod without a seccomp profile, so Unset needs no entry; with no
	// annotation at all, setting any profile is forbidden.
	if names := pspProfileNames(p.SeccompProfiles); len(names) > 0 {
		annotations[pspSeccompAllowed] = strings.Join(names, ",")
	}
	if p.AnyValue.Has(attributes.AnySeccompProfiles) {
		annotations[pspSeccompAllowed] = pspAny
	}
	// PSP's AppArmor check is the other way round: without the annotation anything goes, with it
	// a container must name a listed profile. So list profiles only if none was ever unset.
	if !slices.Contains(p.AppArmorProfiles, attributes.ProfileUnset) && !p.AnyValue.Has(attributes.AnyAppArmorProfiles) {
		if names := pspProfileNames(p.AppArmorProfiles); len(names) > 0 {
			annotations[pspAppArmorAllowed] = strings.Join(names, ",")
		}
	}
	if len(annotations) == 0 {
		annotations = nil
	}
	return &podSecurityPolicy{
		APIVersion: "policy/v1beta1",
		Kind:       "PodSecurityPolicy",
		Metadata:   pspMetadata{Name: u.Name, Annotations: annotations},
		Spec:       spec,
	}
}

// pspRanges converts ranges, clipped to [lo, hi] (a {0,0} host port range would mean port 0).
func pspRanges(rs attributes.Ranges, lo, hi int64) []pspRange {
	var out []pspRange
	for _, r := range rs {
		r.Min, r.Max = max(r.Min, lo), min(r.Max, hi)
		if r.Min <= r.Max {
			out = append(out, pspRange{r.Min, r.Max})
		}
	}
	return out
}

// pspRunAsUser: explicit IDs when every container had one, else non-root when that held, else any.
func pspRunAsUser(p attributes.Profile) pspIDStrategy {
	switch {
	case len(p.RunAsUser.Values) > 0 && !p.RunAsUser.Unset:
		return pspIDStrategy{Rule: "MustRunAs", Ranges: pspRanges(p.RunAsUser.Values, 0, math.MaxInt64)}
	case !p.MayRunAsRoot:
		return pspIDStrategy{Rule: "MustRunAsNonRoot"}
	}
	return pspIDStrategy{Rule: "RunAsAny"}
}

// pspGroupStrategy: MustRunAs the learned ranges when always set, MayRunAs them when sometimes
// unset (MayRunAs checks set values without defaulting unset ones), RunAsAny when never set.
func pspGroupStrategy(ids attributes.IDs) pspIDStrategy {
	switch {
	case len(ids.Values) == 0:
		return pspIDStrategy{Rule: "RunAsAny"}
	case ids.Unset:
		return pspIDStrategy{Rule: "MayRunAs", Ranges: pspRanges(ids.Values, 0, math.MaxInt64)}
	}
	return pspIDStrategy{Rule: "MustRunAs", Ranges: pspRanges(ids.Values, 0, math.MaxInt64)}
}

// pspSELinuxStrategy pins the context when exactly one was seen (MustRunAs also gives it to
// containers that set none); PSP cannot list several, so those allow any.
func pspSELinuxStrategy(opts []attributes.SELinux) pspSELinux {
	if len(opts) != 1 {
		return pspSELinux{Rule: "RunAsAny"}
	}
	o := opts[0]
	return pspSELinux{Rule: "MustRunAs", SELinuxOptions: &corev1.SELinuxOptions{User: o.User, Role: o.Role, Type: o.Type, Level: o.Level}}
}

// pspProfileNames converts profile names to the PSP annotation spelling, sorted; Unset is dropped.
func pspProfileNames(profiles []string) []string {
	var out []string
	for _, n := range profiles {
		switch {
		case n == string(corev1.SeccompProfileTypeRuntimeDefault):
			out = append(out, "runtime/default")
		case n == string(corev1.SeccompProfileTypeUnconfined):
			out = append(out, "unconfined")
		case strings.HasPrefix(n, "Localhost/"):
			out = append(out, "localhost/"+strings.TrimPrefix(n, "Localhost/"))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// safeSysctl asks the Pod Security Standards' own sysctls check (latest version) whether a
// sysctl is in the safe set, rather than keeping a copy of the list.
func safeSysctl(name string) bool {
	check := policy.CheckSysctls()
	latest := check.Versions[len(check.Versions)-1]
	spec := &corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: name}}}}
	return latest.CheckPod(&metav1.ObjectMeta{}, spec).Allowed
}
