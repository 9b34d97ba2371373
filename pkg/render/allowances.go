package render

import "github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"

// Allowance is one thing a profile allows, in words: "hostPID", "capability SYS_ADMIN",
// "hostPath /var/log rw", "runAsUser 0", "runAsNonRoot not set".
type Allowance struct {
	// Field is the Profile field (its JSON name) the allowance comes from.
	Field string
	Text  string
	// Privilege: the allowance gives the pod more than a least-privileged pod has (hostPID,
	// a capability, runAsUser 0, no seccomp profile); otherwise it is a value the pod used
	// that grants nothing by itself (runAsUser 1000, volume configMap, appArmor Unset).
	Privilege bool
}

// Allowances enumerates everything p allows, in Profile field order. It is the single
// vocabulary of the report's evidence and of the messages of the ValidatingAdmissionPolicy, so
// a denied pod's message and the report name a privilege the same way.
func Allowances(p attributes.Profile) []Allowance {
	var out allowanceList
	for _, a := range attributeList {
		a.allowances(p, &out)
	}
	return out
}

// held is text when the profile holds the requirement.
func held(ok bool, text string) []string {
	if ok {
		return []string{text}
	}
	return nil
}

// Requirements lists the restrictions every pod of p held beyond the defaults, in words:
// "runs as non-root", "drops ALL capabilities". The report keeps them apart from what the
// pods used.
func Requirements(p attributes.Profile) []string {
	var out []string
	for _, a := range attributeList {
		if a.requirements != nil {
			out = append(out, a.requirements(p)...)
		}
	}
	return out
}
