package attributes

import (
	"slices"
	"strings"
)

// HostPath is one host directory or file the pod mounts, and whether every mount of it is
// read-only.
type HostPath struct {
	Path     string `json:"path"`
	ReadOnly bool   `json:"readOnly"`
}

// HostPaths is sorted by path, one entry per path.
type HostPaths []HostPath

// observeHostPaths records the hostPath volumes and how they are mounted.
//
// Reads spec.volumes[*].hostPath.path and the volumeMounts of every container that mount those
// volumes. A path is read-only only if every mount of it is readOnly; a hostPath volume no
// container mounts still counts (read-only, since nothing writes through it). Paths are kept as
// written: a policy compares them as written too, and cannot clean them. Joins per path,
// readOnly by AND: one writer makes the path writable.
func observeHostPaths(pod *Pod, p *Profile) {
	writable := map[string]bool{}
	for _, c := range pod.Containers {
		for _, m := range c.VolumeMounts {
			if !m.ReadOnly {
				writable[m.Name] = true
			}
		}
	}
	var found HostPaths
	for _, v := range pod.Spec.Volumes {
		if v.HostPath == nil {
			continue
		}
		found = append(found, HostPath{Path: v.HostPath.Path, ReadOnly: !writable[v.Name]})
	}
	p.HostPaths = p.HostPaths.Join(found)
}

// Join returns the paths of both, each read-only only if read-only in both.
func (hp HostPaths) Join(other HostPaths) HostPaths {
	if len(hp) == 0 && len(other) == 0 {
		return nil
	}
	if hp.covers(other) {
		return hp // nothing new: no allocation on the admission path
	}
	if len(hp) == 0 && increasing(other, func(a, b HostPath) int { return strings.Compare(a.Path, b.Path) }) {
		return other // a pod's own paths, as Observe joins them into an empty profile
	}
	all := append(slices.Clone(hp), other...)
	slices.SortStableFunc(all, func(a, b HostPath) int { return strings.Compare(a.Path, b.Path) })
	out := HostPaths{all[0]}
	for _, h := range all[1:] {
		last := &out[len(out)-1]
		if h.Path == last.Path {
			last.ReadOnly = last.ReadOnly && h.ReadOnly
			continue
		}
		out = append(out, h)
	}
	return out
}

// covers reports whether hp already allows everything other does: every path, and writes
// where other writes.
func (hp HostPaths) covers(other HostPaths) bool {
	for _, o := range other {
		i, found := slices.BinarySearchFunc(hp, o.Path, func(h HostPath, p string) int { return strings.Compare(h.Path, p) })
		if !found || (hp[i].ReadOnly && !o.ReadOnly) {
			return false
		}
	}
	return true
}
