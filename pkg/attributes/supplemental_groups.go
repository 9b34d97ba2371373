package attributes

// observeSupplementalGroups records the supplemental group IDs added to every container.
//
// Reads spec.securityContext.supplementalGroups (pod-level only). Joins by union into ranges.
func observeSupplementalGroups(pod *Pod, p *Profile) {
	if sc := pod.Spec.SecurityContext; sc != nil {
		for _, g := range sc.SupplementalGroups {
			p.SupplementalGroups = append(p.SupplementalGroups, Range{g, g})
		}
	}
}
