package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/policy"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/store"
)

func labelled(kind, ns, name string, labels map[string]string) client.Object {
	meta := metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}
	if kind == "secret" {
		return &corev1.Secret{ObjectMeta: meta}
	}
	if kind == "pod" {
		return &corev1.Pod{ObjectMeta: meta}
	}
	return &corev1.ConfigMap{ObjectMeta: meta}
}

// TestUninstall deletes exactly what serve wrote for this release, and the named Secrets.
func TestUninstall(t *testing.T) {
	managed := func(k, v string) map[string]string {
		return map[string]string{store.LabelManagedBy: store.ManagedBy, k: v}
	}
	objs := []client.Object{
		labelled("configmap", "psa", "psa-state-0", managed(store.LabelState, "psa")),
		labelled("configmap", "psa", "psa-state-1", managed(store.LabelState, "psa")),
		labelled("configmap", "psa", "psa-state-1-corrupt-ab12", managed(store.LabelCorrupt, "psa")),
		labelled("configmap", "psa", "psa-policy", managed(policy.LabelPolicy, "psa-policy")),
		labelled("configmap", "psa", "psa-policy-part-0-of-2", managed(policy.LabelPolicy, "psa-policy")),
		labelled("secret", "psa", "psa-serving-cert", nil),
		// Kept: another release's state, a state in another namespace, a look-alike someone
		// else manages, an unnamed Secret.
		labelled("configmap", "psa", "other-state-0", managed(store.LabelState, "other")),
		labelled("configmap", "elsewhere", "psa-state-0", managed(store.LabelState, "psa")),
		labelled("configmap", "psa", "lookalike", map[string]string{store.LabelState: "psa"}),
		labelled("secret", "psa", "psa-ca-backup", nil),
	}
	c := fake.NewClientBuilder().WithObjects(objs...).Build()
	var out bytes.Buffer
	o := uninstallOptions{namespace: "psa", name: "psa", policyName: "psa-policy", secrets: []string{"psa-serving-cert", "psa-ca"}}
	if err := uninstall(context.Background(), c, o, &out); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, list := range []client.ObjectList{&corev1.ConfigMapList{}, &corev1.SecretList{}} {
		if err := c.List(context.Background(), list); err != nil {
			t.Fatal(err)
		}
		switch l := list.(type) {
		case *corev1.ConfigMapList:
			for _, cm := range l.Items {
				left = append(left, cm.Namespace+"/"+cm.Name)
			}
		case *corev1.SecretList:
			for _, s := range l.Items {
				left = append(left, "secret "+s.Namespace+"/"+s.Name)
			}
		}
	}
	slices.Sort(left)
	if want := []string{"elsewhere/psa-state-0", "psa/lookalike", "psa/other-state-0", "secret psa/psa-ca-backup"}; !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
	want := "deleted configmap/psa-state-0\ndeleted configmap/psa-state-1\ndeleted configmap/psa-state-1-corrupt-ab12\n" +
		"deleted configmap/psa-policy\ndeleted configmap/psa-policy-part-0-of-2\ndeleted secret/psa-serving-cert\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
	// Again: nothing left to delete is not an error.
	out.Reset()
	if err := uninstall(context.Background(), c, o, &out); err != nil || out.Len() != 0 {
		t.Errorf("second run: %v, %q", err, out.String())
	}
}

// TestUninstallWaitsForPods: nothing is deleted while a webhook pod could still save; once it
// is gone, the state goes.
func TestUninstallWaitsForPods(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pod := labelled("pod", "psa", "psa-6d4f", map[string]string{"app.kubernetes.io/instance": "psa"})
		state := labelled("configmap", "psa", "psa-state-0", map[string]string{store.LabelManagedBy: store.ManagedBy, store.LabelState: "psa"})
		c := fake.NewClientBuilder().WithObjects(pod, state).Build()
		o := uninstallOptions{namespace: "psa", name: "psa", podSelector: "app.kubernetes.io/instance=psa"}

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var out bytes.Buffer
		if err := uninstall(ctx, c, o, &out); err == nil || !strings.Contains(err.Error(), "still running") {
			t.Fatalf("with the pod running: %v", err)
		}
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(state), &corev1.ConfigMap{}); err != nil {
			t.Fatalf("state deleted while a webhook pod ran: %v", err)
		}

		done := make(chan error)
		go func() { done <- uninstall(context.Background(), c, o, &out) }()
		time.Sleep(3 * time.Second)
		if err := c.Delete(context.Background(), pod); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "deleted configmap/psa-state-0") {
			t.Errorf("output %q", out.String())
		}
	})
}
