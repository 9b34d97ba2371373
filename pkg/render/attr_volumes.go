package render

import (
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// Volumes: the volume types (VolumeSource fields) used, and the flexVolume and CSI drivers.
const (
	fieldVolumeTypes       = "volumeTypes"
	fieldFlexVolumeDrivers = "flexVolumeDrivers"
	fieldCSIDrivers        = "csiDrivers"
)

var volumeTypesAttribute = attribute{
	allowances: func(p attributes.Profile, out *allowanceList) {
		out.each(p, fieldVolumeTypes, "volume ", p.VolumeTypes, attributes.AnyVolumeTypes, func(t string) bool { return t == "hostPath" })
	},
	restrictions: func(p attributes.Profile, out *restrictionList) {
		// Deny each source field the profile did not use. The names come from the VolumeSource
		// type, so a type added to the API is denied as soon as the library knows it.
		var denied []string
		for _, t := range volumeSources {
			if !slices.Contains(p.VolumeTypes, t) {
				denied = append(denied, "!has(v."+t+")")
			}
		}
		if len(denied) > 0 && out.limited(attributes.AnyVolumeTypes) {
			out.add("volumeTypes", fieldVolumeTypes,
				unsetOr("object.spec", []string{"volumes"}, "object.spec.volumes.all(v,\n  "+strings.Join(denied, " &&\n  ")+"\n)"),
				"uses volumes")
		}
	},
	psp: func(p attributes.Profile, out *podSecurityPolicy) {
		out.Spec.Volumes = p.VolumeTypes
		if p.AnyValue.Has(attributes.AnyVolumeTypes) {
			out.Spec.Volumes = []string{pspAny}
		}
	},
	gatekeeper: func(p attributes.Profile, out *gatekeeperList) {
		if !p.AnyValue.Has(attributes.AnyVolumeTypes) {
			out.limit(gkVolumeTypes, "volumes", orEmpty(p.VolumeTypes))
		}
	},
	shared: func() []sharedCheck {
		return []sharedCheck{
			{name: "volumeTypes", noun: "volume types", entries: func(p attributes.Profile) []string { return p.VolumeTypes },
				expr: unsetOr("object.spec", []string{"volumes"}, "object.spec.volumes.all(v,\n  "+volumeTypesCheck(func(t string) string { return sharedHasEntry("volumeTypes", t) })+"\n)")},
		}
	},
}

// volumeDriversAttribute limits the drivers where their volume type is allowed (else the
// volume type is denied).
var volumeDriversAttribute = attribute{
	allowances: func(p attributes.Profile, out *allowanceList) {
		out.each(p, fieldFlexVolumeDrivers, "flexVolume driver ", p.FlexVolumeDrivers, attributes.AnyFlexVolumeDrivers, always)
		out.each(p, fieldCSIDrivers, "csi driver ", p.CSIDrivers, attributes.AnyCSIDrivers, never)
	},
	restrictions: func(p attributes.Profile, out *restrictionList) {
		typeAllowed := func(t string) bool {
			return slices.Contains(p.VolumeTypes, t) || !out.limited(attributes.AnyVolumeTypes)
		}
		if typeAllowed("flexVolume") && out.limited(attributes.AnyFlexVolumeDrivers) {
			out.add("flexVolumeDrivers", fieldFlexVolumeDrivers,
				unsetOr("object.spec", []string{"volumes"}, "object.spec.volumes.all(v, !has(v.flexVolume) || "+in("v.flexVolume.driver", p.FlexVolumeDrivers)+")"),
				"uses flexVolume drivers")
		}
		if typeAllowed("csi") && out.limited(attributes.AnyCSIDrivers) {
			out.add("csiDrivers", fieldCSIDrivers,
				unsetOr("object.spec", []string{"volumes"}, "object.spec.volumes.all(v, !has(v.csi) || "+in("v.csi.driver", p.CSIDrivers)+")"),
				"uses CSI drivers")
		}
	},
	psp: func(p attributes.Profile, out *podSecurityPolicy) {
		for _, d := range p.FlexVolumeDrivers {
			out.Spec.AllowedFlexVolumes = append(out.Spec.AllowedFlexVolumes, pspDriver{d})
		}
		for _, d := range p.CSIDrivers {
			out.Spec.AllowedCSIDrivers = append(out.Spec.AllowedCSIDrivers, pspCSI{d})
		}
	},
	gatekeeper: func(p attributes.Profile, out *gatekeeperList) {
		// Where the volume type is denied, so are its drivers. No library template limits CSI drivers.
		flexAllowed := slices.Contains(p.VolumeTypes, "flexVolume") || p.AnyValue.Has(attributes.AnyVolumeTypes)
		if flexAllowed && !p.AnyValue.Has(attributes.AnyFlexVolumeDrivers) {
			drivers := []pspDriver{}
			for _, d := range p.FlexVolumeDrivers {
				drivers = append(drivers, pspDriver{d})
			}
			out.limit(gkFlexVolumes, "allowedFlexVolumes", drivers)
		}
	},
	shared: func() []sharedCheck {
		return []sharedCheck{
			{name: "flexVolumeDrivers", noun: "flexVolume drivers", entries: func(p attributes.Profile) []string { return p.FlexVolumeDrivers },
				expr: unsetOr("object.spec", []string{"volumes"}, "object.spec.volumes.all(v, !has(v.flexVolume) || "+sharedMember(sharedVar("flexVolumeDrivers"), "v.flexVolume.driver")+")")},
			{name: "csiDrivers", noun: "CSI drivers", entries: func(p attributes.Profile) []string { return p.CSIDrivers },
				expr: unsetOr("object.spec", []string{"volumes"}, "object.spec.volumes.all(v, !has(v.csi) || "+sharedMember(sharedVar("csiDrivers"), "v.csi.driver")+")")},
		}
	},
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
