package render

import "github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"

// Allowance is one thing a profile allows, in words: "hostPID", "capability SYS_ADMIN",
// "hostPath /var/log rw", "runAsUser 0", "runAsNonRoot not set".
type Allowance struct {
	// Field is the Profile field (its JSON name) the allowance comes from.
	Field string
	Text  string
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
