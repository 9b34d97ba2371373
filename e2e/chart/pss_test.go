package chart

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/defaulting"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/pss"
)

// TestRestrictedPSS: the chart's own pods, the webhook's (from the Deployment template) and
// the `helm test` Pod, pass Pod Security Standards "restricted" at the latest version, as the
// API server's evaluator judges them after the API server's defaulting. So the chart installs
// into a namespace labelled pod-security.kubernetes.io/enforce=restricted.
func TestRestrictedPSS(t *testing.T) {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	restricted := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	for _, vs := range valueSets {
		docs := manifests(t, mustRender(t, releaseName, releaseNamespace, vs.values))
		dep := object[appsv1.Deployment](t, docs, "Deployment", fullname)
		webhookPod := &corev1.Pod{ObjectMeta: dep.Spec.Template.ObjectMeta, Spec: dep.Spec.Template.Spec}
		webhookPod.Namespace = releaseNamespace
		testPod := object[corev1.Pod](t, docs, "Pod", fullname+"-test-policy")
		for _, pod := range []*corev1.Pod{webhookPod, testPod} {
			t.Run(vs.name+"/"+pod.Spec.Containers[0].Name, func(t *testing.T) {
				pod = pod.DeepCopy()
				defaulting.Apply(pod)
				for _, r := range evaluator.EvaluatePod(restricted, &pod.ObjectMeta, &pod.Spec) {
					if !r.Allowed {
						t.Errorf("restricted: %s: %s", r.ForbiddenReason, r.ForbiddenDetail)
					}
				}
				if v := pss.Evaluate(&pod.ObjectMeta, &pod.Spec); v.Level() != psaapi.LevelRestricted {
					t.Errorf("pss.Evaluate: level %s, blocking %+v", v.Level(), v.Blocking())
				}
			})
		}
	}
}

// TestPSSCheckBites: the check above fails a pod that drops the restricted settings, so a
// passing TestRestrictedPSS means something.
func TestPSSCheckBites(t *testing.T) {
	docs := manifests(t, mustRender(t, releaseName, releaseNamespace, valuesDefault))
	dep := object[appsv1.Deployment](t, docs, "Deployment", fullname)
	pod := &corev1.Pod{ObjectMeta: dep.Spec.Template.ObjectMeta, Spec: dep.Spec.Template.Spec}
	pod.Spec.SecurityContext = nil
	pod.Spec.Containers[0].SecurityContext = nil
	defaulting.Apply(pod)
	if v := pss.Evaluate(&pod.ObjectMeta, &pod.Spec); v.Level() == psaapi.LevelRestricted {
		t.Fatal("a pod without securityContext passed restricted")
	}
}
