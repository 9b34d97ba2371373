package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

func newRenderCommand() *cobra.Command {
	var (
		file, namespace string
		namespaces      []string
		opts            render.Options
	)
	cmd := &cobra.Command{
		Use:   "render [-f aggregate.json] --format F",
		Short: "Print a policy from a saved aggregate",
		Long: `render reads learned state and prints the policy in the chosen format and scope. The state is
either an aggregate saved by "convert --format aggregate", or the webhook's state ConfigMaps as
kubectl prints them, JSON or YAML (one ConfigMap, or a List of all shards, which are joined).`,
		Example: `  pod-security-advisor convert -f manifests/ --format aggregate > learned.json
  pod-security-advisor render -f learned.json --format pss
  kubectl get configmap -n pod-security-advisor -l pod-security-advisor.io/state -o json |
    pod-security-advisor render --format report --namespaces team-a
  kubectl get configmap -n pod-security-advisor -l pod-security-advisor.io/state -o yaml |
    pod-security-advisor render --format vap -n team-a`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			agg, name, err := readState(cmd, file)
			if err != nil {
				return err
			}
			if namespace != "" {
				namespaces = append(namespaces, namespace)
			}
			if len(namespaces) > 0 {
				if agg, err = onlyNamespaces(agg, namespaces); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
			return renderTo(cmd.OutOrStdout(), agg, opts)
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "-", "aggregate or state ConfigMaps (JSON or YAML), or - for stdin")
	cmd.Flags().StringSliceVar(&namespaces, "namespaces", nil, "render only these namespaces (comma-separated; default all)")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "render only this namespace (with --namespaces: these too)")
	addRenderFlags(cmd, &opts)
	return cmd
}

// onlyNamespaces keeps the named namespaces of agg; a name it does not hold is an error, so a
// typo is not mistaken for a namespace that needs nothing.
func onlyNamespaces(agg *aggregate.Aggregate, names []string) (*aggregate.Aggregate, error) {
	out := aggregate.New(agg.Replica)
	for _, ns := range names {
		n, ok := agg.Namespaces[ns]
		if !ok {
			return nil, fmt.Errorf("namespace %q: nothing learned", ns)
		}
		out.Namespaces[ns] = n
	}
	return out, nil
}
