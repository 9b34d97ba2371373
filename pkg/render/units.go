package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/pss"
)

// Scope names.
const (
	ScopeCluster        = "cluster"
	ScopeNamespace      = "namespace"
	ScopeServiceAccount = "serviceaccount"
)

// namePrefix starts every object name we generate.
const namePrefix = "pod-security-advisor-"

// otherAccounts is the ServiceAccount of the unit, at scope serviceaccount, of every pod of a
// namespace whose service account no learned pod had: its policy is the namespace's whole
// (the join of all its workloads), so that no service account escapes every policy. It is no
// valid service account name; its object name says what it is (otherAccountsName).
const (
	otherAccounts     = "*"
	otherAccountsName = "other-service-accounts"
)

// evidence is one workload counted toward a unit.
type evidence struct {
	Namespace string
	*aggregate.Workload
}

// unit is what one policy object is learned from: the whole cluster, a namespace, or a
// service account of a namespace.
type unit struct {
	Namespace      string   // "" for the cluster
	ServiceAccount string   // "" unless scope is serviceaccount; otherAccounts: none of Learned
	Learned        []string // the service accounts of the namespace's other units (otherAccounts only)
	Name           string   // object name, a DNS-1123 subdomain
	Profile        attributes.Profile
	Verdict        pss.Verdict
	Workloads      []evidence // sorted by namespace, kind, name
}

// identity is the unit's unambiguous key ('/' appears in neither namespace nor SA names).
func (u *unit) identity() string {
	switch {
	case u.Namespace == "":
		return ScopeCluster
	case u.ServiceAccount == "":
		return u.Namespace
	}
	return u.Namespace + "/" + u.ServiceAccount
}

// where says which pods the unit covers, for messages: "in namespace web".
func (u *unit) where() string {
	switch {
	case u.Namespace == "":
		return "in the cluster"
	case u.ServiceAccount == "":
		return "in namespace " + u.Namespace
	case u.ServiceAccount == otherAccounts:
		// The namespace's whole policy, for its pods of service accounts never learned.
		return fmt.Sprintf("in namespace %s (any service account)", u.Namespace)
	}
	return fmt.Sprintf("in namespace %s with service account %s", u.Namespace, u.ServiceAccount)
}

// learnedFrom says how much evidence backs the unit: "learned from 3 workloads".
func (u *unit) learnedFrom() string {
	return "learned from " + plural(len(u.Workloads), "workload")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// units splits the aggregate into the units of a scope, sorted by identity, each with its
// joined profile and verdict. A workload seen with several service accounts counts toward each.
func units(agg *aggregate.Aggregate, scope string) []*unit {
	byID := map[string]*unit{}
	var order []string
	// add counts workload w of namespace ns toward the unit (unitNS, sa).
	add := func(unitNS, sa, ns string, w *aggregate.Workload) {
		u := &unit{Namespace: unitNS, ServiceAccount: sa}
		id := u.identity()
		if prev, ok := byID[id]; ok {
			u = prev
		} else {
			byID[id] = u
			order = append(order, id)
		}
		u.Profile = attributes.Join(u.Profile, *w.Profile)
		u.Verdict = pss.Join(u.Verdict, w.PSS)
		u.Workloads = append(u.Workloads, evidence{Namespace: ns, Workload: w})
	}
	for _, ns := range agg.NamespaceNames() {
		var unlisted []*aggregate.Workload // service accounts cut by the record's bound
		for _, w := range agg.Namespaces[ns].Sorted() {
			switch scope {
			case ScopeCluster:
				add("", "", ns, w)
			case ScopeNamespace:
				add(ns, "", ns, w)
			case ScopeServiceAccount:
				for _, sa := range w.ServiceAccounts {
					add(ns, sa, ns, w)
				}
				if w.ServiceAccountsNotListed > 0 {
					unlisted = append(unlisted, w)
				}
			}
		}
		// Such a workload may run as any service account of the namespace: it counts toward
		// each, so that no unit's policy denies its pods.
		for _, id := range order {
			u := byID[id]
			if u.Namespace != ns || len(unlisted) == 0 {
				continue
			}
			for _, w := range unlisted {
				if !slices.Contains(w.ServiceAccounts, u.ServiceAccount) {
					add(ns, u.ServiceAccount, ns, w)
				}
			}
			slices.SortFunc(u.Workloads, func(a, b evidence) int { return strings.Compare(a.Key(), b.Key()) })
		}
		if scope == ScopeServiceAccount && len(agg.Namespaces[ns].Workloads) > 0 {
			var learned []string
			for _, id := range order {
				if u := byID[id]; u.Namespace == ns {
					learned = append(learned, u.ServiceAccount)
				}
			}
			for _, w := range agg.Namespaces[ns].Sorted() {
				add(ns, otherAccounts, ns, w)
			}
			byID[ns+"/"+otherAccounts].Learned = slices.Sorted(slices.Values(learned))
		}
	}
	slices.Sort(order)
	out := make([]*unit, len(order))
	for i, id := range order {
		out[i] = byID[id]
	}
	nameUnits(out, countNames(out))
	return out
}

// countNames counts the units that share each plain name.
func countNames(us []*unit) map[string]int {
	count := map[string]int{}
	for _, u := range us {
		count[plainName(u.identity())]++
	}
	return count
}

// plainName is a unit's object name before any hashing:
// pod-security-advisor-<cluster|ns|ns-sa|ns-other-service-accounts>.
func plainName(identity string) string {
	identity = strings.Replace(identity, "/"+otherAccounts, "/"+otherAccountsName, 1)
	return namePrefix + strings.ReplaceAll(identity, "/", "-")
}

// nameUnits gives each unit its object name, its plain name unless that is too long, not a
// DNS-1123 subdomain, or shared by two units of the rendering ("a-b"/"c" and "a"/"b-c"; count
// says how many units have each plain name): then it is cut and suffixed with a hash of the
// unit's identity, so it stays unique and stable.
func nameUnits(us []*unit, count map[string]int) {
	for _, u := range us {
		plain := plainName(u.identity())
		u.Name = plain
		if count[plain] > 1 || len(validation.IsDNS1123Subdomain(plain)) > 0 {
			u.Name = hashedName(plain, u.identity(), validation.DNS1123SubdomainMaxLength)
		}
	}
}

// hashedName makes a valid DNS-1123 subdomain of at most maxLen characters from name, ending in
// the first 8 hex digits of sha256(identity). Only [a-z0-9-] is kept (dots could leave empty
// labels after cutting), so the result is one valid label sequence whatever name held.
func hashedName(name, identity string, maxLen int) string {
	sum := sha256.Sum256([]byte(identity))
	suffix := "-" + hex.EncodeToString(sum[:])[:8]
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	cut := b.String()
	if keep := maxLen - len(suffix); len(cut) > keep {
		cut = cut[:keep]
	}
	// The name must end alphanumeric before the suffix; the prefix guarantees something is left.
	return strings.TrimRight(cut, "-") + suffix
}
