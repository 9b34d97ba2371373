package render

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	admv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// The vap-shared format: one ValidatingAdmissionPolicy for every namespace, the learned values
// of each namespace carried by annotations on its Namespace.
//
// Why: the API server compiles every policy it holds, about 2.5 MiB each for the policies
// learned here, and matches every pod against every binding. One policy per namespace costs
// gigabytes and milliseconds at thousands of namespaces (e2e/bench TestVAPCost measures it);
// one shared policy costs the same at ten namespaces as at ten thousand.
//
// Why Namespace annotations and not a paramKind: the API server keeps every object of a
// paramKind in memory (a ConfigMap paramKind is every ConfigMap of the cluster), and the
// default edit role lets a namespace's users rewrite its ConfigMaps, so a tenant could lift
// its own restrictions. Who may change a Namespace's annotations may change its Pod Security
// labels too: the trust the standard already relies on. The policy reads them as
// namespaceObject, from the API server's namespace cache.
//
// Encoding, exact for any string: each restricted attribute is one annotation
// learned.pod-security-advisor.io/<restriction> listing the values observed pods used, each
// escaped (\ → \\, newline → \n, tab → \t) and ended by a newline; empty when they used none.
// An attribute without an annotation is not restricted, as the per-namespace policy has no
// validation for what every observed pod may do. The policy escapes the pod's value the same
// way and looks for "\n<value>\n", so a value can only match a whole entry.
const (
	// LearnedPrefix begins each annotation key of the documented contract.
	LearnedPrefix = "learned.pod-security-advisor.io/"
	// learnedVersion is the label that binds the shared policy to a namespace, and names the
	// encoding of its annotations.
	learnedVersion     = LearnedPrefix + "version"
	learnedVersionV1   = "v1"
	learnedWorkloads   = LearnedPrefix + "workloads"
	sharedPolicyName   = namePrefix + "learned"
	learnedVar         = "variables.learned"
	entryEscapes       = `.replace('\\', '\\\\').replace('\n', '\\n').replace('\t', '\\t')`
	unsetEntry         = "unset"
	localhostEntry     = attributes.LocalhostPrefix
	selinuxPartDivider = "\t"
)

// escapeEntry is the Go side of entryEscapes.
var escapeEntry = strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\t", `\t`).Replace

// sharedCheck is one validation of the shared policy: the restriction it enforces, its test of
// the pod against the namespace's entries, and the entries a profile gives it.
type sharedCheck struct {
	name string
	// expr tests the pod; it reads the entries as variables.<name> ("\n" + the annotation).
	expr string
	// entries are the annotation's values, unescaped, for a profile the restriction applies to.
	entries func(attributes.Profile) []string
	// noun names the entries in the message ("capabilities"); empty for value-free checks.
	noun string
}

// valueFree are the restrictions whose expression is the same whatever was learned: the
// shared policy uses the per-namespace policy's expression, and the annotation is empty.
var valueFree = []string{
	"hostNetwork", "hostPID", "hostIPC", "hostUsers", "privileged", "allowPrivilegeEscalation",
	"dropAll", "readOnlyRootFilesystem", "runAsNonRoot", "windowsHostProcess",
}

// sharedChecks are every restriction restrictions() can make, in its order.
var sharedChecks = buildSharedChecks()

// referenceRestrictions returns, by name, the restrictions of profiles that between them make
// every restriction appear: the source of value-free expressions and of the "none" texts.
func referenceRestrictions() map[string]restriction {
	rich := attributes.Profile{
		VolumeTypes: []string{"csi", "flexVolume", "hostPath"},
		HostPaths:   attributes.HostPaths{{Path: "/", ReadOnly: true}},
	}
	byName := map[string]restriction{}
	for _, p := range []attributes.Profile{{}, rich} {
		rs, _ := restrictions(p)
		for _, r := range rs {
			if _, ok := byName[r.name]; !ok {
				byName[r.name] = r
			}
		}
	}
	return byName
}

func buildSharedChecks() []sharedCheck {
	ref := referenceRestrictions()
	var checks []sharedCheck
	for _, a := range attributeList {
		if a.shared != nil {
			checks = append(checks, a.shared()...)
		}
	}
	for _, name := range valueFree {
		r, ok := ref[name]
		if !ok {
			panic("render: no restriction " + name)
		}
		checks = append(checks, sharedCheck{name: name, expr: r.expr, entries: func(attributes.Profile) []string { return nil }})
	}
	// In restrictions() order, so the policy reads like the per-namespace one.
	order := make([]string, 0, len(ref))
	rs, _ := restrictions(attributes.Profile{})
	for _, r := range rs {
		order = append(order, r.name)
	}
	for _, r := range []string{"hostPaths", "hostPathReadOnly", "flexVolumeDrivers", "csiDrivers"} {
		order = append(order, r)
	}
	slices.SortStableFunc(checks, func(a, b sharedCheck) int {
		return slices.Index(order, a.name) - slices.Index(order, b.name)
	})
	return checks
}

// sharedReadOnlyVolumes names the variable listing the pod's volumes of read-only host paths.
const sharedReadOnlyVolumes = "readOnlyHostPathVolumes"

// volumeTypesCheck tests one volume v: every volume source field it sets is allowed.
func volumeTypesCheck(allowed func(t string) string) string {
	parts := make([]string, len(volumeSources))
	for i, t := range volumeSources {
		parts[i] = fmt.Sprintf("(!has(v.%s) || %s)", t, allowed(t))
	}
	return strings.Join(parts, " &&\n  ")
}

func hostPathEntries(hs attributes.HostPaths, readOnlyOnly bool) []string {
	var out []string
	for _, h := range hs {
		if h.ReadOnly || !readOnlyOnly {
			out = append(out, h.Path)
		}
	}
	return out
}

// selinuxEntries are the learned option tuples, their parts escaped apart and joined by a tab,
// so that the entry escaping then only doubles nothing new: the parts carry no raw tab.
func selinuxEntries(p attributes.Profile) []string {
	out := make([]string, len(p.SELinuxOptions))
	for i, s := range p.SELinuxOptions {
		out[i] = strings.Join([]string{escapeEntry(s.User), escapeEntry(s.Role), escapeEntry(s.Type), escapeEntry(s.Level)}, selinuxPartDivider)
	}
	return out
}

// encodeEntries is an annotation's value: each entry escaped and ended by a newline.
func encodeEntries(name string, entries []string) string {
	var b strings.Builder
	for _, e := range entries {
		if name != "seLinuxOptions" { // escaped part by part already
			e = escapeEntry(e)
		}
		b.WriteString(e)
		b.WriteByte('\n')
	}
	return b.String()
}

// renderVAPShared writes the shared policy, its binding, and one Namespace per learned
// namespace carrying the learned values.
func renderVAPShared(w io.Writer, us []*unit, enforce bool) error {
	s := &stream{w: w}
	s.comment(
		"One ValidatingAdmissionPolicy learned by pod-security-advisor for every namespace; each",
		"namespace's learned values are annotations on its Namespace, applied with the policy.",
		"Each "+LearnedPrefix+"<restriction> annotation lists the values observed pods used,",
		"one per line (empty: none); an attribute without one is not restricted. The policy is bound",
		"to namespaces labelled "+learnedVersion+"="+learnedVersionV1+", and denies a pod anything more privileged.",
	)
	actions := []admv1.ValidationAction{admv1.Warn, admv1.Audit}
	if enforce {
		actions = []admv1.ValidationAction{admv1.Deny}
	}
	docs := make([]namespaceAnnotationsDoc, len(us))
	for i, u := range us {
		doc, err := learnedNamespace(u)
		if err != nil {
			return err
		}
		docs[i] = doc
	}
	if len(us) == 0 {
		return s.err // nothing learned: no policy either
	}
	s.doc(sharedPolicy())
	s.doc(sharedBinding(actions))
	for i, u := range us {
		s.doc(docs[i], evidenceComment(u)...)
	}
	return s.err
}

// namespaceAnnotationsDoc is the part of a Namespace that carries the label and annotations;
// applying it changes nothing else.
type namespaceAnnotationsDoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
}

// learnedNamespace is the Namespace of a unit, annotated with the entries of each restriction
// the unit's per-namespace policy would have.
func learnedNamespace(u *unit) (namespaceAnnotationsDoc, error) {
	var doc namespaceAnnotationsDoc
	doc.APIVersion, doc.Kind = "v1", "Namespace"
	doc.Metadata.Name = u.Namespace
	doc.Metadata.Labels = map[string]string{learnedVersion: learnedVersionV1}
	a := map[string]string{learnedWorkloads: strconv.Itoa(len(u.Workloads))}
	rs, _ := restrictions(u.Profile)
	for _, r := range rs {
		i := slices.IndexFunc(sharedChecks, func(c sharedCheck) bool { return c.name == r.name })
		if i < 0 {
			return doc, fmt.Errorf("render: the shared policy has no check for restriction %s", r.name)
		}
		a[LearnedPrefix+r.name] = encodeEntries(r.name, sharedChecks[i].entries(u.Profile))
	}
	doc.Metadata.Annotations = a
	return doc, nil
}

// sharedPolicy is the one policy: each validation applies where its annotation is present.
func sharedPolicy() *admv1.ValidatingAdmissionPolicy {
	fail := admv1.Fail
	reason := metav1.StatusReasonForbidden
	ann := "namespaceObject.metadata.annotations"
	p := &admv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: sharedPolicyName},
		Spec: admv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			// As the per-namespace policy: pods on create, and when a debug container is added.
			MatchConstraints: &admv1.MatchResources{ResourceRules: []admv1.NamedRuleWithOperations{
				podRule(admv1.Create, "pods"),
				podRule(admv1.Update, "pods/ephemeralcontainers"),
			}},
			Variables: []admv1.Variable{
				{Name: "learned", Expression: fmt.Sprintf("has(%s) ? %s : {}", ann, ann)},
			},
		},
	}
	for _, c := range sharedChecks {
		key := quote(LearnedPrefix + c.name)
		if c.name != "hostPathReadOnly" && !slices.Contains(valueFree, c.name) {
			p.Spec.Variables = append(p.Spec.Variables, admv1.Variable{Name: c.name, Expression: fmt.Sprintf(`%s in %s ? '\n' + %s[%s] : ''`, key, learnedVar, learnedVar, key)})
		}
		switch c.name {
		case "runAsUser", "runAsGroup", "fsGroup", "supplementalGroups", "hostPorts":
			p.Spec.Variables = append(p.Spec.Variables, admv1.Variable{Name: c.name + "Ranges", Expression: rangesVariable(c.name)})
		case "hostPathReadOnly":
			p.Spec.Variables = append(p.Spec.Variables,
				admv1.Variable{Name: c.name, Expression: fmt.Sprintf(`%s in %s ? '\n' + %s[%s] : ''`, key, learnedVar, learnedVar, key)},
				admv1.Variable{Name: sharedReadOnlyVolumes, Expression: "has(object.spec.volumes) ?\n  object.spec.volumes.filter(v, has(v.hostPath) && " +
					paren(fmt.Sprintf(`%s || (v.hostPath.path.endsWith('/') && %s)`,
						fmt.Sprintf(`variables.hostPathReadOnly.contains('\n' + v.hostPath.path%s + '\n')`, entryEscapes),
						fmt.Sprintf(`variables.hostPathReadOnly.contains('\n' + v.hostPath.path.substring(0, v.hostPath.path.size() - 1)%s + '\n')`, entryEscapes))) +
					").map(v, v.name) :\n  []"})
		}
		p.Spec.Validations = append(p.Spec.Validations, admv1.Validation{
			Expression: fmt.Sprintf("!(%s in %s) || (\n%s\n)", key, learnedVar, c.expr),
			Message:    sharedMessage(c),
			Reason:     &reason,
		})
	}
	return p
}

// rangesVariable parses the ranges among the entries of a numeric restriction ("1000-1999";
// single values and "unset" are found by string search) into [min, max] pairs, and only when
// the annotation holds a dash at all. The dash is looked for after the first character, so a
// negative bound parses too and a negative single value is no range.
func rangesVariable(name string) string {
	key := quote(LearnedPrefix + name)
	return fmt.Sprintf("%[1]s in %[2]s && %[2]s[%[1]s].contains('-') ?\n"+
		"  %[2]s[%[1]s].split('\\n').filter(e, e.size() > 1 && e.indexOf('-', 1) > 0).map(e,\n"+
		"    [int(e.substring(0, e.indexOf('-', 1))), int(e.substring(e.indexOf('-', 1) + 1))]) :\n  []",
		key, learnedVar)
}

// entryLiteral is the CEL literal of one entry as the annotation holds it: escaped, between
// newlines.
func entryLiteral(entry string) string {
	return strings.ReplaceAll(quote("\n"+escapeEntry(entry)+"\n"), `\x0a`, `\n`)
}

// sharedMessage says which annotation of the pod's Namespace holds what was learned. It is
// static: the API server evaluates every messageExpression of a policy on every request, denied
// or not, and spelling out the entries there cost more than all the validations together.
func sharedMessage(c sharedCheck) string {
	where := " (Namespace annotation " + LearnedPrefix + c.name + ")"
	if c.noun == "" {
		return "no observed pod in this namespace " + referenceRestrictions()[c.name].none + where
	}
	if c.name == "hostPathReadOnly" {
		return "observed pods in this namespace only mount read-only the hostPaths listed" + where
	}
	return "observed pods in this namespace only use the " + c.noun + " listed" + where
}

// sharedBinding binds the shared policy to the namespaces labelled with the encoding version
// (match conditions cannot read namespaceObject; a label selector is also the cheapest test).
func sharedBinding(actions []admv1.ValidationAction) *admv1.ValidatingAdmissionPolicyBinding {
	return &admv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: sharedPolicyName},
		Spec: admv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        sharedPolicyName,
			ValidationActions: actions,
			MatchResources: &admv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{learnedVersion: learnedVersionV1},
			}},
		},
	}
}

// The building blocks of the shared checks: the entries of restriction name are the variable
// variables.<name>, "\n" + its annotation.

// sharedVar is the variable of a restriction's entries.
func sharedVar(name string) string { return "variables." + name }

// sharedMember tests that x, escaped, is a whole entry of list.
func sharedMember(list, x string) string {
	return fmt.Sprintf(`%s.contains('\n' + %s%s + '\n')`, list, x, entryEscapes)
}

// sharedInRanges tests the integer x against a numeric restriction's entries. A single value
// is one string search; the ranges are parsed only when there are some.
func sharedInRanges(name, x string) string {
	v := sharedVar(name)
	return fmt.Sprintf(`(%s.contains('\n' + string(%s) + '\n') || %s.exists(r, r[0] <= %s && %s <= r[1]))`, v, x, sharedVar(name+"Ranges"), x, x)
}

// sharedHasEntry tests that entry is among a restriction's entries.
func sharedHasEntry(name, entry string) string {
	return sharedVar(name) + ".contains(" + entryLiteral(entry) + ")"
}

// rangeEntries are the entries of ranges: "5", "1000-1999".
func rangeEntries(rs attributes.Ranges) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

// idEntries are the entries of an ID attribute: its ranges, and unsetEntry if some left it unset.
func idEntries(ids attributes.IDs) []string {
	out := rangeEntries(ids.Values)
	if ids.Unset {
		out = append(out, unsetEntry)
	}
	return out
}

// sharedIDCheck tests a security context ID that containers inherit from the pod.
func sharedIDCheck(name string) string {
	return allContainers(effective([]string{name}, func(x string) string { return sharedInRanges(name, x) }, sharedHasEntry(name, unsetEntry)))
}

// sharedPathIn is pathIn against a restriction's entries.
func sharedPathIn(name, x string) string {
	v := sharedVar(name)
	return fmt.Sprintf("%s || (%s.endsWith('/') && %s)", sharedMember(v, x), x, sharedMember(v, x+".substring(0, "+x+".size() - 1)"))
}

// sharedProfileCheck is profileCheck against a restriction's entries.
func sharedProfileCheck(name string) func(string) string {
	v := sharedVar(name)
	return func(sp string) string {
		local := fmt.Sprintf("%s.contains('\\n%s')", v, localhostEntry)
		return fmt.Sprintf("((%s && %s.type == 'Localhost' && has(%s.localhostProfile)) ?\n  %s :\n  %s.type != '%s' && !%s.type.startsWith('%s') && %s)",
			local, sp, sp, sharedMember(v, "'"+localhostEntry+"' + "+sp+".localhostProfile"),
			sp, attributes.ProfileUnset, sp, localhostEntry, sharedMember(v, sp+".type"))
	}
}
