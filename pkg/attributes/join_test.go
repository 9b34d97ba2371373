package attributes

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// gen draws small values from small pools, so random pods and profiles often overlap.
type gen struct{ *rand.Rand }

func newGen(seed uint64) gen { return gen{rand.New(rand.NewPCG(seed, 0x5eed))} }

func pick[T any](g gen, pool ...T) T { return pool[g.IntN(len(pool))] }

func (g gen) bool() bool { return g.IntN(2) == 0 }

// maybe returns a pointer to v, or nil half of the time.
func maybe[T any](g gen, v T) *T {
	if g.bool() {
		return nil
	}
	return &v
}

func (g gen) id() int64 { return pick[int64](g, 0, 1, 999, 1000, 1001, 1002, 65534, -1, math.MaxInt64) }

func (g gen) seLinux() *corev1.SELinuxOptions {
	return maybe(g, corev1.SELinuxOptions{
		User: pick(g, "", "system_u", "a:b", "a"), Role: pick(g, "", "b:", "object_r"),
		Type: pick(g, "", "spc_t", "container_t"), Level: pick(g, "", "s0", "s0:c1,c2"),
	})
}

func (g gen) seccomp() *corev1.SeccompProfile {
	return maybe(g, corev1.SeccompProfile{
		Type:             pick(g, corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined, corev1.SeccompProfileTypeLocalhost),
		LocalhostProfile: maybe(g, pick(g, "a.json", "b.json")),
	})
}

func (g gen) appArmor() *corev1.AppArmorProfile {
	return maybe(g, corev1.AppArmorProfile{
		Type:             pick(g, corev1.AppArmorProfileTypeRuntimeDefault, corev1.AppArmorProfileTypeUnconfined, corev1.AppArmorProfileTypeLocalhost),
		LocalhostProfile: maybe(g, pick(g, "x", "y")),
	})
}

func (g gen) windows() *corev1.WindowsSecurityContextOptions {
	return maybe(g, corev1.WindowsSecurityContextOptions{HostProcess: maybe(g, g.bool()), RunAsUserName: maybe(g, "u")})
}

var volumeNames = []string{"h1", "h2", "h3", "cm", "csi", "flex"}

func (g gen) container(name string) corev1.Container {
	c := corev1.Container{Name: name}
	if g.bool() {
		c.SecurityContext = &corev1.SecurityContext{
			Privileged:               maybe(g, g.bool()),
			AllowPrivilegeEscalation: maybe(g, g.bool()),
			ReadOnlyRootFilesystem:   maybe(g, g.bool()),
			RunAsNonRoot:             maybe(g, g.bool()),
			RunAsUser:                maybe(g, g.id()),
			RunAsGroup:               maybe(g, g.id()),
			ProcMount:                maybe(g, pick(g, corev1.DefaultProcMount, corev1.UnmaskedProcMount, "")),
			SELinuxOptions:           g.seLinux(),
			SeccompProfile:           g.seccomp(),
			AppArmorProfile:          g.appArmor(),
			WindowsOptions:           g.windows(),
		}
		if g.bool() {
			caps := &corev1.Capabilities{}
			for range g.IntN(3) {
				caps.Add = append(caps.Add, pick[corev1.Capability](g, "NET_ADMIN", "cap_net_admin", "SYS_TIME", "chown"))
			}
			for range g.IntN(3) {
				caps.Drop = append(caps.Drop, pick[corev1.Capability](g, "ALL", "all", "NET_RAW"))
			}
			c.SecurityContext.Capabilities = caps
		}
	}
	for range g.IntN(3) {
		c.Ports = append(c.Ports, corev1.ContainerPort{HostPort: pick[int32](g, 0, 0, 80, 81, 443, 8080)})
	}
	for range g.IntN(3) {
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: pick(g, volumeNames...), ReadOnly: g.bool()})
	}
	if g.bool() {
		c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Host: pick(g, "", "a", "b")}}}
	}
	if g.bool() {
		c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{TCPSocket: &corev1.TCPSocketAction{Host: pick(g, "", "b", "c")}}}
	}
	return c
}

func (g gen) containers(prefix string) []corev1.Container {
	var cs []corev1.Container
	for i := range g.IntN(3) {
		cs = append(cs, g.container(prefix+string(rune('a'+i))))
	}
	return cs
}

// pod returns a random pod; containers may be left for the caller to fill in.
func (g gen) pod() *corev1.Pod {
	p := &corev1.Pod{Spec: corev1.PodSpec{
		HostNetwork: g.bool(), HostPID: g.bool(), HostIPC: g.bool(), HostUsers: maybe(g, g.bool()),
	}}
	if g.bool() {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{
			RunAsUser: maybe(g, g.id()), RunAsGroup: maybe(g, g.id()), RunAsNonRoot: maybe(g, g.bool()),
			FSGroup: maybe(g, g.id()), SELinuxOptions: g.seLinux(), SeccompProfile: g.seccomp(),
			AppArmorProfile: g.appArmor(), WindowsOptions: g.windows(),
		}
		for range g.IntN(3) {
			p.Spec.SecurityContext.SupplementalGroups = append(p.Spec.SecurityContext.SupplementalGroups, g.id())
			p.Spec.SecurityContext.Sysctls = append(p.Spec.SecurityContext.Sysctls, corev1.Sysctl{Name: pick(g, "kernel.shm_rmid_forced", "net.core.somaxconn")})
		}
	}
	for _, name := range volumeNames[:g.IntN(len(volumeNames)+1)] {
		v := corev1.Volume{Name: name}
		switch name {
		case "cm":
			v.ConfigMap = &corev1.ConfigMapVolumeSource{}
		case "csi":
			v.CSI = &corev1.CSIVolumeSource{Driver: pick(g, "a.csi", "b.csi")}
		case "flex":
			v.FlexVolume = &corev1.FlexVolumeSource{Driver: pick(g, "x/flex", "y/flex")}
		default:
			v.HostPath = &corev1.HostPathVolumeSource{Path: pick(g, "/var/log", "/var/log/", "/data", "/")}
		}
		p.Spec.Volumes = append(p.Spec.Volumes, v)
	}
	p.Annotations = map[string]string{}
	for _, c := range []string{"ia", "ca", "cb", "ea"} {
		if g.IntN(4) == 0 {
			p.Annotations[corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix+c] = pick(g, "runtime/default", "unconfined", "localhost/z")
		}
	}
	return p
}

// observed returns the profile of a random pod.
func (g gen) observed() Profile {
	p := g.pod()
	p.Spec.InitContainers = g.containers("i")
	p.Spec.Containers = g.containers("c")
	for _, c := range g.containers("e") {
		p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, eph(c))
	}
	return Observe(p)
}

// strings returns a random canonical (sorted, duplicate-free, nil when empty) list.
func (g gen) strings(pool ...string) []string {
	var out []string
	for range g.IntN(4) {
		out = union(out, []string{pick(g, pool...)})
	}
	return out
}

func (g gen) ranges() Ranges {
	var rs Ranges
	for range g.IntN(4) {
		rs = rs.Add(g.id())
	}
	return rs
}

// profile returns a random canonical profile, not necessarily one a pod could produce.
func (g gen) profile() Profile {
	var hp HostPaths
	for range g.IntN(4) {
		hp = hp.Join(HostPaths{{Path: pick(g, "/a", "/b", "/c"), ReadOnly: g.bool()}})
	}
	var se []SELinux
	for range g.IntN(3) {
		if o := g.seLinux(); o != nil {
			se = joinSELinux(se, []SELinux{{o.User, o.Role, o.Type, o.Level}})
		}
	}
	return Profile{
		HostNetwork: g.bool(), HostPID: g.bool(), HostIPC: g.bool(), HostUsers: g.bool(),
		Privileged: g.bool(), AllowPrivilegeEscalation: g.bool(),
		AddedCapabilities:        g.strings("CHOWN", "NET_ADMIN", "SYS_ADMIN"),
		KeepsDefaultCapabilities: g.bool(), WritableRootFilesystem: g.bool(), MayRunAsRoot: g.bool(),
		RunAsUser:          IDs{g.ranges(), g.bool()},
		RunAsGroup:         IDs{g.ranges(), g.bool()},
		FSGroup:            IDs{g.ranges(), g.bool()},
		SupplementalGroups: g.ranges(),
		VolumeTypes:        g.strings("configMap", "hostPath", "secret"),
		HostPaths:          hp,
		FlexVolumeDrivers:  g.strings("x", "y"),
		CSIDrivers:         g.strings("a", "b"),
		HostPorts:          g.ranges(),
		Sysctls:            g.strings("a", "b"),
		SeccompProfiles:    g.strings("RuntimeDefault", "Unset", "Localhost/a"),
		AppArmorProfiles:   g.strings("RuntimeDefault", "Unconfined", "Localhost/x"),
		SELinuxOptions:     se,
		ProcMountTypes:     g.strings("Default", "Unmasked"),
		WindowsHostProcess: g.bool(),
		ProbeHosts:         g.strings("a", "b"),
	}
}

// bigPool holds 80 names, a few of them long, so that the join of two or three draws of
// big often passes MaxValues or MaxValueBytes.
var bigPool = func() []string {
	var pool []string
	for i := range 80 {
		v := fmt.Sprintf("v%02d", i)
		if i%16 == 0 {
			v += strings.Repeat("<", 120) // JSON escapes '<' in six bytes
		}
		pool = append(pool, v)
	}
	return pool
}()

// big returns a random profile near its bounds: sets of many values, ID sets of many ranges,
// and now and then an attribute already widened to any value. It is canonical: Join(zero, raw)
// sorts, merges and bounds what was drawn.
func (g gen) big() Profile {
	many := func() []string {
		var out []string
		for range g.IntN(40) {
			out = append(out, pick(g, bigPool...))
		}
		return out
	}
	ranges := func() Ranges {
		var rs Ranges
		for range g.IntN(24) {
			v := int64(g.IntN(200))
			rs = append(rs, Range{v, v + int64(g.IntN(2))})
		}
		if g.IntN(8) == 0 {
			rs = append(rs, Range{math.MaxInt64 - 5, math.MaxInt64}, Range{-7, -3})
		}
		return rs
	}
	var hp HostPaths
	for _, v := range many() {
		hp = append(hp, HostPath{Path: "/" + v, ReadOnly: g.bool()})
	}
	var se []SELinux
	for _, v := range many() {
		se = append(se, SELinux{Type: v, Level: pick(g, "", "s0")})
	}
	raw := g.profile()
	raw.AddedCapabilities = append(raw.AddedCapabilities, many()...)
	raw.Sysctls = append(raw.Sysctls, many()...)
	raw.SeccompProfiles = append(raw.SeccompProfiles, many()...)
	raw.ProbeHosts = append(raw.ProbeHosts, many()...)
	raw.HostPaths = append(raw.HostPaths, hp...)
	raw.SELinuxOptions = append(raw.SELinuxOptions, se...)
	raw.RunAsUser.Values = append(raw.RunAsUser.Values, ranges()...)
	raw.SupplementalGroups = append(raw.SupplementalGroups, ranges()...)
	raw.HostPorts = append(raw.HostPorts, ranges()...)
	if g.IntN(4) == 0 {
		raw.AnyValue = 1 << g.IntN(numFields)
	}
	return Join(Profile{}, raw)
}

func mustEqual(t *testing.T, what string, got, want Profile) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func TestJoinLaws(t *testing.T) {
	for _, src := range []struct {
		name string
		draw func(gen) Profile
	}{
		{"observed", gen.observed},
		{"direct", gen.profile},
		{"mixed", func(g gen) Profile {
			if g.bool() {
				return g.observed()
			}
			return g.profile()
		}},
		{"near bounds", gen.big},
	} {
		t.Run(src.name, func(t *testing.T) {
			for seed := range uint64(500) {
				g := newGen(seed)
				a, b, c := src.draw(g), src.draw(g), src.draw(g)
				mustEqual(t, "identity", Join(a, Profile{}), a)
				mustEqual(t, "left identity", Join(Profile{}, a), a)
				mustEqual(t, "idempotent", Join(a, a), a)
				mustEqual(t, "commutative", Join(a, b), Join(b, a))
				mustEqual(t, "associative", Join(Join(a, b), c), Join(a, Join(b, c)))
				mustEqual(t, "absorbs its operand", Join(Join(a, b), a), Join(a, b))
				checkBounds(t, Join(Join(a, b), c))
				ab := Join(a, b)
				if !Covers(ab, a) || !Covers(ab, b) {
					t.Fatalf("seed %d: the join does not cover its operands", seed)
				}
				if Covers(a, b) != reflect.DeepEqual(ab, a) {
					t.Fatalf("seed %d: Covers(a, b) = %t, but Join(a, b) == a is %t", seed, Covers(a, b), !Covers(a, b))
				}

				data, err := json.Marshal(a)
				if err != nil {
					t.Fatal(err)
				}
				var back Profile
				if err := json.Unmarshal(data, &back); err != nil {
					t.Fatal(err)
				}
				mustEqual(t, "JSON round trip", back, a)
			}
		})
	}
}

// TestObserveSplitsOverContainers checks that a pod's profile is the join of the profiles of
// the same pod with its containers split in two: every per-container rule is local, and the
// pod-level ones are idempotent.
func TestObserveSplitsOverContainers(t *testing.T) {
	for seed := range uint64(500) {
		g := newGen(seed)
		base := g.pod()
		init, main, debug := g.containers("i"), g.containers("c"), g.containers("e")
		var ephemeral []corev1.EphemeralContainer
		for _, c := range debug {
			ephemeral = append(ephemeral, eph(c))
		}
		with := func(init, main []corev1.Container, ephemeral []corev1.EphemeralContainer) *corev1.Pod {
			p := base.DeepCopy()
			p.Spec.InitContainers, p.Spec.Containers, p.Spec.EphemeralContainers = init, main, ephemeral
			return p
		}
		whole := Observe(with(init, main, ephemeral))
		mustEqual(t, "split init|rest", Join(Observe(with(init, nil, nil)), Observe(with(nil, main, ephemeral))), whole)
		mustEqual(t, "split main|rest", Join(Observe(with(nil, main, nil)), Observe(with(init, nil, ephemeral))), whole)
	}
}
