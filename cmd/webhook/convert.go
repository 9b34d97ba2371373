package main

import (
	"bytes"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/defaulting"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

func newConvertCommand() *cobra.Command {
	var (
		files     []string
		namespace string
		verbose   bool
		opts      render.Options
	)
	cmd := &cobra.Command{
		Use:   "convert -f FILE|DIR|- [-f ...]",
		Short: "Learn from manifests offline and print the least-privilege policy",
		Long: `convert reads Kubernetes manifests (multi-document YAML or JSON, List objects) and learns from
every pod template in them: Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob,
ReplicationController and PodTemplate. Each pod is first changed the way the API server would
change it before admission (defaulting, the service-account token volume), so the policy admits
the pods as they will really arrive. Other kinds are skipped, counted by kind in one line on stderr (-v lists each).

Malformed input stops with an error naming the file and document; nothing is printed then.`,
		Example: `  pod-security-advisor convert -f deploy/ --format vap --enforce
  helm template my-release ./chart | pod-security-advisor convert -f - --format pss
  pod-security-advisor convert -f app.yaml --format psp --scope serviceaccount`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			objects, err := readManifests(files, namespace, verbose, cmd.InOrStdin(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			agg := aggregate.New("convert")
			for _, o := range objects {
				defaulting.Apply(o.Pod)
				agg.Add(aggregate.Observe(o.Pod, o.Owner, time.Time{}))
			}
			return renderTo(cmd.OutOrStdout(), agg, opts)
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "manifest file, directory (walked for .yaml, .yml, .json) or - for stdin; repeatable")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "default", "namespace of objects that do not name one")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list each skipped document, not only their count by kind")
	addRenderFlags(cmd, &opts)
	return cmd
}

func addRenderFlags(cmd *cobra.Command, opts *render.Options) {
	cmd.Flags().StringVar(&opts.Format, "format", "vap", "output: "+strings.Join(render.Formats, ", "))
	cmd.Flags().StringVar(&opts.Scope, "scope", "namespace", "one policy per: "+strings.Join(render.Scopes, ", "))
	cmd.Flags().BoolVar(&opts.Enforce, "enforce", false, "vap, vap-shared: bind with validationActions [Deny] instead of [Warn, Audit]; gatekeeper: enforcementAction deny instead of dryrun")
	// Checked before any input is read: a wrong flag is not found after a long read of stdin.
	cmd.PreRunE = func(cmd *cobra.Command, _ []string) error {
		return render.CheckFlags(*opts, cmd.Flags().Changed("scope"), cmd.Flags().Changed("enforce"))
	}
}

// renderTo renders fully before writing, so a failure leaves stdout empty.
func renderTo(w io.Writer, agg *aggregate.Aggregate, opts render.Options) error {
	var buf bytes.Buffer
	if err := render.Render(&buf, agg, opts); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}
