package render

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// restriction is one learned limit: a CEL expression that admits exactly the pods whose value
// of one attribute the profile allows.
type restriction struct {
	name    string   // short identifier, for tests and variable names
	expr    string   // CEL over object (the pod)
	learned []string // the profile's allowances this restriction keeps (Allowances' words)
	none    string   // what no observed pod does, said when learned is empty: "uses hostPID"
}

// message is the restriction's static message: what was learned, and from how much. The API
// server rejects messages with line breaks, so any in learned values become spaces.
func (r restriction) message(u *unit) string {
	if len(r.learned) == 0 {
		return fmt.Sprintf("no observed pod %s %s; %s", u.where(), r.none, u.learnedFrom())
	}
	const shown = 8 // the list is in the policy's evidence; keep messages short
	words := r.learned
	if len(words) > shown {
		words = append(slices.Clone(words[:shown]), fmt.Sprintf("and %d more", len(r.learned)-shown))
	}
	msg := fmt.Sprintf("observed pods %s only use %s; %s", u.where(), strings.Join(words, ", "), u.learnedFrom())
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(msg)
}

// readOnlyHostPathVolumes names the variable listing the pod's volumes of read-only host paths.
const readOnlyHostPathVolumes = "readOnlyHostPathVolumes"

// variable is a named CEL expression the restrictions share (a VAP spec.variables entry).
type variable struct{ name, expr string }

// restrictions returns what p does not allow, as CEL, in Profile field order. A field that p
// allows entirely (hostPID when some pod used it, or any value of an attribute widened past its
// bound) gives no restriction.
func restrictions(p attributes.Profile) ([]restriction, []variable) {
	var rs []restriction
	var vars []variable
	add := func(name, field string, expr, none string) {
		rs = append(rs, restriction{name: name, expr: expr, learned: allowed(p, field), none: none})
	}
	limited := func(f attributes.Fields) bool { return !p.AnyValue.Has(f) }

	for _, ns := range []struct {
		field string
		on    bool
	}{{"hostNetwork", p.HostNetwork}, {"hostPID", p.HostPID}, {"hostIPC", p.HostIPC}} {
		if !ns.on {
			f := "object.spec." + ns.field
			add(ns.field, ns.field, fmt.Sprintf("!has(%s) || %s == false", f, f), "uses "+ns.field)
		}
	}
	if !p.HostUsers {
		// hostUsers unset means the host user namespace, so only an explicit false passes.
		add("hostUsers", fieldHostUsers, "has(object.spec.hostUsers) && object.spec.hostUsers == false",
			"shares the host user namespace (hostUsers: false is required)")
	}
	if !p.Privileged {
		add("privileged", fieldPrivileged,
			allContainers(unsetOr("c", []string{"securityContext", "privileged"}, ctrSC+".privileged == false")),
			"runs a privileged container")
	}
	if !p.AllowPrivilegeEscalation {
		// Unset allows escalation (no_new_privs is not set), so the field must say false.
		add("allowPrivilegeEscalation", fieldAllowPrivilegeEscalation,
			allContainers(has("c", "securityContext", "allowPrivilegeEscalation")+" && "+ctrSC+".allowPrivilegeEscalation == false"),
			"allows privilege escalation (allowPrivilegeEscalation: false is required)")
	}

	// Capability names are compared as the observer normalises them: trimmed, upper case, with
	// or without the CAP_ prefix; listing both spellings avoids string surgery in CEL.
	addOK := ctrSC + ".capabilities.add.size() == 0"
	if len(p.AddedCapabilities) > 0 {
		addOK = fmt.Sprintf("%s.capabilities.add.all(a, a.trim().upperAscii() in %s)", ctrSC, list(capSpellings(p.AddedCapabilities)))
	}
	if limited(attributes.AnyAddedCapabilities) {
		add("addedCapabilities", fieldAddedCapabilities,
			allContainers(unsetOr("c", []string{"securityContext", "capabilities", "add"}, addOK)), "adds capabilities")
	}
	if !p.KeepsDefaultCapabilities {
		add("dropAll", fieldKeepsDefaultCapabilities,
			allContainers(has("c", "securityContext", "capabilities", "drop")+" &&\n  "+
				ctrSC+".capabilities.drop.exists(d, d.trim().upperAscii() in "+list(capSpellings([]string{"ALL"}))+")"),
			"keeps the default capabilities (capabilities.drop: [ALL] is required)")
	}
	if !p.WritableRootFilesystem {
		add("readOnlyRootFilesystem", fieldWritableRootFilesystem,
			allContainers(has("c", "securityContext", "readOnlyRootFilesystem")+" && "+ctrSC+".readOnlyRootFilesystem == true"),
			"writes to its root filesystem (readOnlyRootFilesystem: true is required)")
	}
	if !p.MayRunAsRoot {
		add("runAsNonRoot", fieldMayRunAsRoot,
			allContainers(effective([]string{"runAsNonRoot"}, func(v string) string { return v + " == true" }, "false")),
			"may run as root (runAsNonRoot: true is required)")
	}

	idRule := func(ids attributes.IDs) func(string) string {
		return func(v string) string { return inRanges(v, ids.Values) }
	}
	add("runAsUser", fieldRunAsUser,
		allContainers(effective([]string{"runAsUser"}, idRule(p.RunAsUser), strconv.FormatBool(p.RunAsUser.Unset))), "sets runAsUser")
	add("runAsGroup", fieldRunAsGroup,
		allContainers(effective([]string{"runAsGroup"}, idRule(p.RunAsGroup), strconv.FormatBool(p.RunAsGroup.Unset))), "sets runAsGroup")
	fsSet := has("object.spec", "securityContext", "fsGroup")
	fsOK := fmt.Sprintf("(%s) ?\n  %s :\n  %t", fsSet, inRanges(podSC+".fsGroup", p.FSGroup.Values), p.FSGroup.Unset)
	if len(p.FSGroup.Values) == 0 {
		fsOK = "!(" + fsSet + ")"
	}
	add("fsGroup", fieldFSGroup, fsOK, "sets fsGroup")
	supOK := podSC + ".supplementalGroups.size() == 0"
	if len(p.SupplementalGroups) > 0 {
		supOK = fmt.Sprintf("%s.supplementalGroups.all(g, %s)", podSC, inRanges("g", p.SupplementalGroups))
	}
	add("supplementalGroups", fieldSupplementalGroups,
		unsetOrLn("object.spec", []string{"securityContext", "supplementalGroups"}, supOK), "sets supplementalGroups")

	// Volume types: deny each source field the profile did not use. The names come from the
	// VolumeSource type, so a type added to the API is denied as soon as the library knows it.
	var denied []string
	for _, t := range volumeSources {
		if !slices.Contains(p.VolumeTypes, t) {
			denied = append(denied, "!has(v."+t+")")
		}
	}
	if len(denied) > 0 && limited(attributes.AnyVolumeTypes) {
		add("volumeTypes", fieldVolumeTypes,
			unsetOr("object.spec", []string{"volumes"}, "object.spec.volumes.all(v,\n  "+strings.Join(denied, " &&\n  ")+"\n)"),
			"uses volumes")
	}
	if len(p.HostPaths) > 0 {
		var all, ro []string
		var roWords []string
		for _, h := range p.HostPaths {
			all = append(all, h.Path)
			if h.ReadOnly {
				ro = append(ro, h.Path)
				roWords = append(roWords, "hostPath "+h.Path+" ro")
			}
		}
		add("hostPaths", fieldHostPaths,
			unsetOr("object.spec", []string{"volumes"}, "object.spec.volumes.all(v,\n  !has(v.hostPath) ||\n  "+pathIn("v.hostPath.path", all)+"\n)"),
			"uses hostPath volumes")
		if len(ro) > 0 {
			vars = append(vars, variable{readOnlyHostPathVolumes,
				"has(object.spec.volumes) ?\n  object.spec.volumes.filter(v, has(v.hostPath) && " + paren(pathIn("v.hostPath.path", ro)) + ").map(v, v.name) :\n  []"})
			rs = append(rs, restriction{name: "hostPathReadOnly", learned: roWords,
				expr: allContainers(fmt.Sprintf("!has(c.volumeMounts) || c.volumeMounts.all(m,\n  !(m.name in variables.%s) || (has(m.readOnly) && m.readOnly == true)\n)", readOnlyHostPathVolumes))})
		}
	}
	// Drivers are limited where their volume type is allowed (else the volume type is denied).
	typeAllowed := func(t string) bool { return slices.Contains(p.VolumeTypes, t) || !limited(attributes.AnyVolumeTypes) }
	if typeAllowed("flexVolume") && limited(attributes.AnyFlexVolumeDrivers) {
		add("flexVolumeDrivers", fieldFlexVolumeDrivers,
			unsetOr("object.spec", []string{"volumes"}, "object.spec.volumes.all(v, !has(v.flexVolume) || "+in("v.flexVolume.driver", p.FlexVolumeDrivers)+")"),
			"uses flexVolume drivers")
	}
	if typeAllowed("csi") && limited(attributes.AnyCSIDrivers) {
		add("csiDrivers", fieldCSIDrivers,
			unsetOr("object.spec", []string{"volumes"}, "object.spec.volumes.all(v, !has(v.csi) || "+in("v.csi.driver", p.CSIDrivers)+")"),
			"uses CSI drivers")
	}

	// hostPort 0 is "no host port".
	portOK := "!has(p.hostPort) || p.hostPort == 0"
	if len(p.HostPorts) > 0 {
		portOK += " || " + inRanges("p.hostPort", p.HostPorts)
	}
	add("hostPorts", fieldHostPorts, allContainers("!has(c.ports) || c.ports.all(p, "+portOK+")"), "uses hostPorts")
	sysOK := podSC + ".sysctls.size() == 0"
	if len(p.Sysctls) > 0 {
		sysOK = podSC + ".sysctls.all(s, s.name in " + list(p.Sysctls) + ")"
	}
	if limited(attributes.AnySysctls) {
		add("sysctls", fieldSysctls, unsetOrLn("object.spec", []string{"securityContext", "sysctls"}, sysOK), "sets sysctls")
	}

	if limited(attributes.AnySeccompProfiles) {
		add("seccompProfiles", fieldSeccompProfiles,
			allContainers(effective([]string{"seccompProfile"}, profileCheck(p.SeccompProfiles), unsetAllowed(p.SeccompProfiles))),
			"sets a seccomp profile")
	}
	// The API server copies the deprecated AppArmor annotations into these fields before
	// validating admission, so the fields are the whole story.
	if limited(attributes.AnyAppArmorProfiles) {
		add("appArmorProfiles", fieldAppArmorProfiles,
			allContainers(effective([]string{"appArmorProfile"}, profileCheck(p.AppArmorProfiles), unsetAllowed(p.AppArmorProfiles))),
			"sets an AppArmor profile")
	}
	// A container's seLinuxOptions replace the pod's whole; absent options are not limited.
	if limited(attributes.AnySELinuxOptions) {
		add("seLinuxOptions", fieldSELinuxOptions,
			allContainers(effective([]string{"seLinuxOptions"}, selinuxCheck(p.SELinuxOptions), "true")),
			"sets SELinux options")
	}
	if limited(attributes.AnyProcMountTypes) &&
		(!slices.Contains(p.ProcMountTypes, string(corev1.DefaultProcMount)) || !slices.Contains(p.ProcMountTypes, string(corev1.UnmaskedProcMount))) {
		add("procMountTypes", fieldProcMountTypes,
			allContainers(fmt.Sprintf("((%s && %s.procMount != '') ? %s.procMount : 'Default') in %s",
				has("c", "securityContext", "procMount"), ctrSC, ctrSC, list(p.ProcMountTypes))),
			"uses a procMount type")
	}
	if !p.WindowsHostProcess {
		add("windowsHostProcess", fieldWindowsHostProcess,
			allContainers(effective([]string{"windowsOptions", "hostProcess"}, func(v string) string { return v + " == false" }, "true")),
			"runs a Windows HostProcess container")
	}
	if limited(attributes.AnyProbeHosts) {
		add("probeHosts", fieldProbeHosts, allContainers(probeHostsCheck(p.ProbeHosts)), "sends probes or lifecycle hooks to another host")
	}
	return rs, vars
}

// volumeSources are the JSON names of corev1.VolumeSource's fields: every volume type.
var volumeSources = func() []string {
	t := reflect.TypeFor[corev1.VolumeSource]()
	var names []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}()

// capSpellings lists each capability with and without the CAP_ prefix.
func capSpellings(caps []string) []string {
	var out []string
	for _, c := range caps {
		out = append(out, c, "CAP_"+c)
	}
	return out
}

// pathIn tests a hostPath path against learned paths, which the observer keeps as written. A
// learned path is also accepted with one trailing slash added, the one spelling of the same
// directory that commonly differs between manifests.
func pathIn(x string, paths []string) string {
	l := list(paths)
	return fmt.Sprintf("%s in %s || (%s.endsWith('/') && %s.substring(0, %s.size() - 1) in %s)", x, l, x, x, x, l)
}

// unsetAllowed says whether a container with neither its own nor the pod's profile passes.
func unsetAllowed(profiles []string) string {
	return strconv.FormatBool(slices.Contains(profiles, attributes.ProfileUnset))
}

// profileCheck tests a seccompProfile or appArmorProfile against learned names: the type, or
// "Localhost/<localhostProfile>".
func profileCheck(learned []string) func(string) string {
	var types, local []string
	for _, n := range learned {
		if name, ok := strings.CutPrefix(n, "Localhost/"); ok {
			local = append(local, name)
		} else if n != attributes.ProfileUnset {
			types = append(types, n)
		}
	}
	return func(sp string) string {
		if len(local) == 0 {
			return in(sp+".type", types)
		}
		return fmt.Sprintf("((%s.type == 'Localhost' && has(%s.localhostProfile)) ? %s : %s)",
			sp, sp, in(sp+".localhostProfile", local), in(sp+".type", types))
	}
}

// selinuxCheck tests seLinuxOptions against learned tuples; absent parts compare as "".
func selinuxCheck(learned []attributes.SELinux) func(string) string {
	tuples := make([]string, len(learned))
	for i, s := range learned {
		tuples[i] = list([]string{s.User, s.Role, s.Type, s.Level})
	}
	return func(o string) string {
		if len(tuples) == 0 {
			return "false"
		}
		parts := make([]string, 4)
		for i, f := range []string{"user", "role", "type", "level"} {
			parts[i] = fmt.Sprintf("(has(%s.%s) ? %s.%s : '')", o, f, o, f)
		}
		return "[" + strings.Join(parts, ", ") + "] in [" + strings.Join(tuples, ", ") + "]"
	}
}

// probeHostsCheck tests the host of every httpGet and tcpSocket handler of a container's probes
// and lifecycle hooks. An empty host is the pod's own IP and always passes.
// probeHandlersCheck tests the host of every httpGet and tcpSocket handler of a container's
// probes and lifecycle hooks, with ok testing one host.
func probeHandlersCheck(ok func(host string) string) string {
	handler := func(h string) string {
		return fmt.Sprintf("(%s) && (%s)",
			unsetOr(h, []string{"httpGet", "host"}, ok(h+".httpGet.host")),
			unsetOr(h, []string{"tcpSocket", "host"}, ok(h+".tcpSocket.host")))
	}
	var parts []string
	for _, probe := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
		parts = append(parts, unsetOr("c", []string{probe}, paren(handler("c."+probe))))
	}
	for _, hook := range []string{"postStart", "preStop"} {
		parts = append(parts, unsetOr("c", []string{"lifecycle", hook}, paren(handler("c.lifecycle."+hook))))
	}
	return "(" + strings.Join(parts, ") &&\n(") + ")"
}

func probeHostsCheck(learned []string) string {
	return probeHandlersCheck(func(host string) string {
		if len(learned) == 0 {
			return host + " == ''"
		}
		return host + " in " + list(append([]string{""}, learned...))
	})
}
