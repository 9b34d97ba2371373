package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/policy"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/store"
)

type uninstallOptions struct {
	namespace, name, policyName string
	secrets                     []string
	podSelector                 string
	timeout                     time.Duration
}

// The command is what the chart's opt-in post-delete hook runs (uninstall.deleteLearning): the
// webhook's own image, so the hook needs no other image (no kubectl, no shell) to be mirrored,
// and it knows the labels it wrote.
func newUninstallCommand() *cobra.Command {
	o := uninstallOptions{}
	cmd := &cobra.Command{
		Use:   "uninstall --namespace NS --name NAME",
		Short: "Delete what serve wrote: its state and policy ConfigMaps, and the named Secrets",
		Long: `uninstall deletes what helm uninstall leaves behind: the state ConfigMaps (<name>-state-N and
copies of corrupt ones) and the policy ConfigMaps (<name>-policy and its parts) of --namespace,
selected by the labels serve gives them, and the Secrets named by --secrets (cert-manager's
serving and CA certificates). What was learned is lost.

With --wait-for-pods, it first waits until no pod matches that selector, so a webhook
replica still saving on its way out cannot write the state again.`,
		Example: `  pod-security-advisor uninstall --namespace pod-security-advisor --name pod-security-advisor \
    --secrets pod-security-advisor-serving-cert,pod-security-advisor-ca`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.namespace == "" {
				return fmt.Errorf("--namespace is required")
			}
			if o.policyName == "" {
				o.policyName = o.name + "-policy"
			}
			cfg, err := ctrl.GetConfig()
			if err != nil {
				return err
			}
			scheme := runtime.NewScheme()
			_ = clientgoscheme.AddToScheme(scheme)
			c, err := client.New(cfg, client.Options{Scheme: scheme})
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
			defer cancel()
			return uninstall(ctx, c, o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.namespace, "namespace", "", "namespace of the release")
	f.StringVar(&o.name, "name", "pod-security-advisor", "the --name serve ran with (prefix of the state ConfigMaps)")
	f.StringVar(&o.policyName, "policy-configmap", "", "the --policy-configmap serve ran with (default <name>-policy)")
	f.StringSliceVar(&o.secrets, "secrets", nil, "Secrets of --namespace to delete (comma-separated)")
	f.StringVar(&o.podSelector, "wait-for-pods", "", "label selector of the webhook's pods: wait until none is left before deleting")
	f.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up after this long")
	if kf := flag.CommandLine.Lookup(config.KubeconfigFlagName); kf != nil {
		f.AddGoFlag(kf)
	}
	return cmd
}

// uninstall waits for the webhook's pods to be gone, then deletes the ConfigMaps serve wrote
// and the named Secrets, printing each deletion; what is already gone is skipped.
func uninstall(ctx context.Context, c client.Client, o uninstallOptions, out io.Writer) error {
	if o.podSelector != "" {
		sel, err := labels.Parse(o.podSelector)
		if err != nil {
			return fmt.Errorf("--wait-for-pods: %w", err)
		}
		if err := waitNoPods(ctx, c, o.namespace, sel, out); err != nil {
			return err
		}
	}
	// Each kind of ConfigMap serve writes, by the label that names its release; every one also
	// carries managed-by, so a ConfigMap of someone else that happens to match is kept.
	for _, selector := range []client.MatchingLabels{
		{store.LabelManagedBy: store.ManagedBy, store.LabelState: o.name},
		{store.LabelManagedBy: store.ManagedBy, store.LabelCorrupt: o.name},
		{policy.LabelManagedBy: policy.ManagedBy, policy.LabelPolicy: o.policyName},
	} {
		var list metav1.PartialObjectMetadataList
		list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMapList"))
		if err := c.List(ctx, &list, client.InNamespace(o.namespace), selector); err != nil {
			return fmt.Errorf("listing ConfigMaps %v: %w", labels.Set(selector), err)
		}
		for i := range list.Items {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: o.namespace, Name: list.Items[i].Name}}
			if err := deleteObject(ctx, c, cm, "configmap", out); err != nil {
				return err
			}
		}
	}
	for _, name := range o.secrets {
		if err := deleteObject(ctx, c, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: o.namespace, Name: name}}, "secret", out); err != nil {
			return err
		}
	}
	return nil
}

func deleteObject(ctx context.Context, c client.Client, obj client.Object, kind string, out io.Writer) error {
	switch err := c.Delete(ctx, obj); {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("deleting %s/%s: %w", kind, obj.GetName(), err)
	}
	fmt.Fprintf(out, "deleted %s/%s\n", kind, obj.GetName())
	return nil
}

// waitNoPods polls until no pod of the namespace matches sel: the last replica's final save
// (up to its termination grace period) must be over before its state is deleted.
func waitNoPods(ctx context.Context, c client.Client, namespace string, sel labels.Selector, out io.Writer) error {
	said := false
	for {
		var pods metav1.PartialObjectMetadataList
		pods.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
		if err := c.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return fmt.Errorf("listing pods %s: %w", sel, err)
		}
		if len(pods.Items) == 0 {
			return nil
		}
		if !said {
			fmt.Fprintf(out, "waiting for %d webhook pods (%s) to exit\n", len(pods.Items), sel)
			said = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("webhook pods (%s) still running: %w", sel, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}
