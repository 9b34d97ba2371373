package attributes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestObserveVolumes(t *testing.T) {
	type vols struct{ Types, Flex, CSI []string }
	vol := func(name string, src corev1.VolumeSource) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: src}
	}
	withVolumes := func(vs ...corev1.Volume) *corev1.Pod {
		return pod(corev1.PodSpec{Volumes: vs, Containers: []corev1.Container{ctr("app", nil)}})
	}
	csi := func(driver string) corev1.VolumeSource {
		return corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: driver}}
	}
	runObserve(t, func(p Profile) vols { return vols{p.VolumeTypes, p.FlexVolumeDrivers, p.CSIDrivers} }, []observeCase[vols]{
		{"no volumes", one(nil, nil), vols{}},
		{"types sorted and deduplicated", withVolumes(
			vol("s", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}),
			vol("c", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}),
			vol("e", corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}),
			vol("c2", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}),
		), vols{Types: []string{"configMap", "emptyDir", "secret"}}},
		{"JSON names of multi-word sources", withVolumes(
			vol("pvc", corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "x"}}),
			vol("d", corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{}}),
			vol("h", corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}),
			vol("p", corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}),
			vol("eph", corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}),
			vol("img", corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: "r"}}),
		), vols{Types: []string{"downwardAPI", "ephemeral", "hostPath", "image", "persistentVolumeClaim", "projected"}}},
		{"volume without a source is not recorded", withVolumes(vol("none", corev1.VolumeSource{})), vols{}},
		{"flexVolume driver", withVolumes(
			vol("f", corev1.VolumeSource{FlexVolume: &corev1.FlexVolumeSource{Driver: "example.com/lvm"}}),
		), vols{Types: []string{"flexVolume"}, Flex: []string{"example.com/lvm"}}},
		{"CSI drivers sorted and deduplicated", withVolumes(
			vol("a", csi("secrets-store.csi.k8s.io")), vol("b", csi("ebs.csi.aws.com")), vol("c", csi("ebs.csi.aws.com")),
		), vols{Types: []string{"csi"}, CSI: []string{"ebs.csi.aws.com", "secrets-store.csi.k8s.io"}}},
	})
}

func TestVolumeType(t *testing.T) {
	if got := VolumeType(&corev1.VolumeSource{}); got != "" {
		t.Errorf("empty source: got %q", got)
	}
	if got := VolumeType(&corev1.VolumeSource{GCEPersistentDisk: &corev1.GCEPersistentDiskVolumeSource{}}); got != "gcePersistentDisk" {
		t.Errorf("gcePersistentDisk: got %q", got)
	}
	if got := VolumeType(&corev1.VolumeSource{ISCSI: &corev1.ISCSIVolumeSource{}}); got != "iscsi" {
		t.Errorf("iscsi: got %q", got)
	}
}
