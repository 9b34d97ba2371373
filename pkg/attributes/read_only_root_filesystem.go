package attributes

// observeReadOnlyRootFilesystem records whether any container writes to its root filesystem.
//
// Reads securityContext.readOnlyRootFilesystem of every container (no pod-level field); unset
// means writable. Joins by OR: "read-only root filesystem" holds while every container set it.
func observeReadOnlyRootFilesystem(pod *Pod, p *Profile) {
	for _, c := range pod.Containers {
		if c.SC.ReadOnlyRootFilesystem == nil || !*c.SC.ReadOnlyRootFilesystem {
			p.WritableRootFilesystem = true
		}
	}
}
