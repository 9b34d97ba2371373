package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/pod-security-advisor/pod-security-advisor/internal/inspect"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

func newInspectCommand() *cobra.Command {
	var (
		kubeconfig, kubeContext, namespace string
		all                                bool
		timeout                            time.Duration
		opts                               render.Options
	)
	cmd := &cobra.Command{
		Use:   "inspect [--kubeconfig K] [--context C] [-n NS | -A] [--format F] [--scope S]",
		Short: "Learn from the pods of a running cluster in one pass (read-only) and print the policy",
		Long: `inspect lists the pods of a namespace (-n, default the context's) or of every namespace (-A),
a page at a time, and the ReplicaSets and Jobs that own them; resolves each pod to its top
workload as the webhook does (a Deployment's pods are the Deployment's, a CronJob's the
CronJob's); and prints the policy learned from them in the chosen format, as convert does from
manifests. Nothing is installed and nothing written: it needs list on pods, replicasets.apps
and jobs.batch in the namespaces it reads. Progress goes to stderr when it takes a while.`,
		Example: `  pod-security-advisor inspect -n team-a --format report
  pod-security-advisor inspect -A --format vap --enforce > learned-vap.yaml
  pod-security-advisor inspect --context prod -A --format aggregate > learned.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all && namespace != "" {
				return fmt.Errorf("-n and -A exclude each other")
			}
			loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
				&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig, Precedence: clientcmd.NewDefaultClientConfigLoadingRules().Precedence},
				&clientcmd.ConfigOverrides{CurrentContext: kubeContext})
			cfg, err := loader.ClientConfig()
			if err != nil {
				return err
			}
			if !all && namespace == "" {
				if namespace, _, err = loader.Namespace(); err != nil {
					return err
				}
			}
			scheme := runtime.NewScheme()
			_ = clientgoscheme.AddToScheme(scheme)
			c, err := client.New(cfg, client.Options{Scheme: scheme})
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			agg, st, err := inspect.Scan(ctx, c, inspect.Options{Namespace: namespace, Progress: cmd.ErrOrStderr()})
			if err != nil {
				return err
			}
			if st.Pods == 0 {
				where := "namespace " + namespace
				if all {
					where = "the cluster"
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "no pods in %s: nothing to learn\n", where)
			}
			return renderTo(cmd.OutOrStdout(), agg, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, else ~/.kube/config)")
	f.StringVar(&kubeContext, "context", "", "kubeconfig context (default the current one)")
	f.StringVarP(&namespace, "namespace", "n", "", "namespace to read (default the context's)")
	f.BoolVarP(&all, "all-namespaces", "A", false, "read every namespace")
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "give up after this long")
	addRenderFlags(cmd, &opts)
	return cmd
}
