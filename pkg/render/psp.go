package render

import (
	"io"
	"math"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"

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
// moving from PSP-based tooling, with the RBAC that makes it usable: PSP admission admits a pod
// only under a policy that the pod's creator or its service account may `use`, so a policy
// without a grant is one nobody can use.
func renderPSP(w io.Writer, us []*unit, scope string) error {
	s := &stream{w: w}
	s.comment(
		"PodSecurityPolicies (policy/v1beta1, removed in Kubernetes 1.25) learned by pod-security-advisor,",
		"one per "+scopeNoun(scope)+", each with a ClusterRole that may use it and a binding",
		"to the service accounts it was learned for (whoever creates pods directly needs a binding",
		"of their own). PSP cannot express hostUsers, Windows HostProcess, probe hosts or several",
		"SELinux contexts; the ValidatingAdmissionPolicy format can.",
	)
	for _, u := range us {
		s.doc(psp(u), evidenceComment(u)...)
		s.doc(pspUseRole(u))
		binding, comment := pspBinding(u)
		s.doc(binding, comment...)
	}
	return s.err
}

// pspUseRole may use the unit's policy, and nothing else.
func pspUseRole(u *unit) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: u.Name},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{"policy"}, Resources: []string{"podsecuritypolicies"},
			ResourceNames: []string{u.Name}, Verbs: []string{"use"},
		}},
	}
}

// pspBinding grants the unit's role to the service accounts of the pods the unit covers: all
// of the cluster's, the namespace's, or one account. The namespace's unit for its other
// service accounts can only be granted to all of the namespace's: RBAC cannot leave some out.
func pspBinding(u *unit) (any, []string) {
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: u.Name}
	group := func(name string) []rbacv1.Subject {
		return []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}}
	}
	if u.Namespace == "" {
		return &rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: u.Name},
			Subjects:   group(serviceaccount.AllServiceAccountsGroup), RoleRef: ref,
		}, nil
	}
	b := &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: u.Name, Namespace: u.Namespace},
		Subjects:   group(serviceaccount.MakeNamespaceGroupName(u.Namespace)), RoleRef: ref,
	}
	var comment []string
	switch u.ServiceAccount {
	case "":
	case otherAccounts:
		comment = []string{"Granted to every service account of the namespace: RBAC cannot leave out the learned ones,",
			"so their pods are admitted under this policy too (PSP admits a pod under any policy it may use)."}
	default:
		b.Subjects = []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: u.ServiceAccount, Namespace: u.Namespace}}
	}
	return b, comment
}

func psp(u *unit) *podSecurityPolicy {
	out := &podSecurityPolicy{
		APIVersion: "policy/v1beta1",
		Kind:       "PodSecurityPolicy",
		Metadata:   pspMetadata{Name: u.Name, Annotations: map[string]string{}},
	}
	// An attribute widened to any value is "*" where PSP has a wildcard; an empty list of host
	// paths, flexVolume or CSI drivers allows any; SELinux is RunAsAny with no options.
	for _, a := range attributeList {
		if a.psp != nil {
			a.psp(u.Profile, out)
		}
	}
	if len(out.Metadata.Annotations) == 0 {
		out.Metadata.Annotations = nil
	}
	return out
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

// pspProfileNames converts profile names to the PSP annotation spelling, sorted; Unset is dropped.
func pspProfileNames(profiles []string) []string {
	var out []string
	for _, n := range profiles {
		switch {
		case n == string(corev1.SeccompProfileTypeRuntimeDefault):
			out = append(out, "runtime/default")
		case n == string(corev1.SeccompProfileTypeUnconfined):
			out = append(out, "unconfined")
		case strings.HasPrefix(n, attributes.LocalhostPrefix):
			out = append(out, "localhost/"+strings.TrimPrefix(n, attributes.LocalhostPrefix))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
