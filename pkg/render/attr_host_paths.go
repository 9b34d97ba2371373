package render

import (
	"fmt"
	"strings"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// hostPath volumes: the paths used, each read-only if every mount of it was.
const fieldHostPaths = "hostPaths"

// readOnlyHostPathVolumes names the variable listing the pod's volumes of read-only host paths.
const readOnlyHostPathVolumes = "readOnlyHostPathVolumes"

var hostPathsAttribute = attribute{
	allowances: func(p attributes.Profile, out *allowanceList) {
		for _, h := range p.HostPaths {
			mode := " rw"
			if h.ReadOnly {
				mode = " ro"
			}
			out.add(fieldHostPaths, "hostPath "+h.Path+mode)
		}
		out.anyValue(p, fieldHostPaths, "hostPath ", attributes.AnyHostPaths)
	},
	restrictions: func(p attributes.Profile, out *restrictionList) {
		if len(p.HostPaths) == 0 {
			return
		}
		var all, ro []string
		var roWords []string
		for _, h := range p.HostPaths {
			all = append(all, h.Path)
			if h.ReadOnly {
				ro = append(ro, h.Path)
				roWords = append(roWords, "hostPath "+h.Path+" ro")
			}
		}
		rule := "mount hostPath " + strings.Join(ro, ", ") + " only read-only"
		if len(ro) > 8 {
			rule = fmt.Sprintf("mount hostPath %s and %d more only read-only", strings.Join(ro[:8], ", "), len(ro)-8)
		}
		out.add("hostPaths", fieldHostPaths,
			unsetOr("object.spec", []string{"volumes"}, "object.spec.volumes.all(v,\n  !has(v.hostPath) ||\n  "+pathIn("v.hostPath.path", all)+"\n)"),
			"uses hostPath volumes")
		if len(ro) > 0 {
			out.vars = append(out.vars, variable{readOnlyHostPathVolumes,
				"has(object.spec.volumes) ?\n  object.spec.volumes.filter(v, has(v.hostPath) && " + paren(pathIn("v.hostPath.path", ro)) + ").map(v, v.name) :\n  []"})
			out.rs = append(out.rs, restriction{name: "hostPathReadOnly", learned: roWords, rule: rule,
				expr: allContainers(fmt.Sprintf("!has(c.volumeMounts) || c.volumeMounts.all(m,\n  !(m.name in variables.%s) || (has(m.readOnly) && m.readOnly == true)\n)", readOnlyHostPathVolumes))})
		}
	},
	psp: func(p attributes.Profile, out *podSecurityPolicy) {
		for _, h := range p.HostPaths {
			out.Spec.AllowedHostPaths = append(out.Spec.AllowedHostPaths, pspHostPath{PathPrefix: h.Path, ReadOnly: h.ReadOnly})
		}
	},
	gatekeeper: func(p attributes.Profile, out *gatekeeperList) {
		// Without host paths, the volume types constraint denies hostPath, unless it was widened.
		if p.AnyValue.Has(attributes.AnyHostPaths) || len(p.HostPaths) == 0 && !p.AnyValue.Has(attributes.AnyVolumeTypes) {
			return
		}
		paths := []pspHostPath{}
		for _, h := range p.HostPaths {
			paths = append(paths, pspHostPath{PathPrefix: h.Path, ReadOnly: h.ReadOnly})
		}
		out.limit(gkHostFilesystem, "allowedHostPaths", paths)
		if len(paths) > 0 {
			out.looser(gkHostFilesystem, "each path is a prefix, so the paths below a learned path are admitted too")
		}
	},
	shared: func() []sharedCheck {
		return []sharedCheck{
			{name: "hostPaths", noun: "hostPaths", entries: func(p attributes.Profile) []string { return hostPathEntries(p.HostPaths, false) },
				expr: unsetOr("object.spec", []string{"volumes"}, "object.spec.volumes.all(v,\n  !has(v.hostPath) ||\n  "+sharedPathIn("hostPaths", "v.hostPath.path")+"\n)")},
			{name: "hostPathReadOnly", noun: "hostPaths mounted only read-only", entries: func(p attributes.Profile) []string { return hostPathEntries(p.HostPaths, true) },
				expr: allContainers(fmt.Sprintf("!has(c.volumeMounts) || c.volumeMounts.all(m,\n  !(m.name in variables.%s) || (has(m.readOnly) && m.readOnly == true)\n)", sharedReadOnlyVolumes))},
		}
	},
}

// pathIn tests a hostPath path against learned paths, which the observer keeps as written. A
// learned path is also accepted with one trailing slash added, the one spelling of the same
// directory that commonly differs between manifests.
func pathIn(x string, paths []string) string {
	l := list(paths)
	return fmt.Sprintf("%s in %s || (%s.endsWith('/') && %s.substring(0, %s.size() - 1) in %s)", x, l, x, x, x, l)
}
