package attributes

import (
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// observeVolumes records the volume types the pod uses, and the flexVolume and CSI drivers.
//
// Reads spec.volumes[*]: the type is the name of the volume source field that is set
// (configMap, secret, hostPath, projected, csi, …), the same names PodSecurityPolicy's
// `volumes` and the Pod Security Standards use. Types and drivers join by union.
func observeVolumes(pod *Pod, p *Profile) {
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if t := VolumeType(&v.VolumeSource); t != "" {
			p.VolumeTypes = appendNew(p.VolumeTypes, t)
		}
		if v.FlexVolume != nil {
			p.FlexVolumeDrivers = appendNew(p.FlexVolumeDrivers, v.FlexVolume.Driver)
		}
		if v.CSI != nil {
			p.CSIDrivers = appendNew(p.CSIDrivers, v.CSI.Driver)
		}
	}
}

// VolumeType returns the JSON name of the source set in vs, or "" if none is.
func VolumeType(vs *corev1.VolumeSource) string {
	v := reflect.ValueOf(vs).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
			return name
		}
	}
	return ""
}
