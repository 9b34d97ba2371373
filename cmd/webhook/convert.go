package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/defaulting"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/manifest"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

func newConvertCommand() *cobra.Command {
	var (
		files     []string
		namespace string
		opts      render.Options
	)
	cmd := &cobra.Command{
		Use:   "convert -f FILE|DIR|- [-f ...]",
		Short: "Learn from manifests offline and print the least-privilege policy",
		Long: `convert reads Kubernetes manifests (multi-document YAML or JSON, List objects) and learns from
every pod template in them: Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob,
ReplicationController and PodTemplate. Each pod is first changed the way the API server would
change it before admission (defaulting, the service-account token volume), so the policy admits
the pods as they will really arrive. Other kinds are skipped with a note on stderr.

Malformed input stops with an error naming the file and document; nothing is printed then.`,
		Example: `  pod-security-advisor convert -f deploy/ --format vap --enforce
  helm template my-release ./chart | pod-security-advisor convert -f - --format pss
  pod-security-advisor convert -f app.yaml --format psp --scope serviceaccount`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return fmt.Errorf("no input: give -f FILE, -f DIR or -f - for stdin")
			}
			agg := aggregate.New("convert")
			for _, f := range files {
				if err := learnPath(agg, f, namespace, cmd.InOrStdin(), cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			return renderTo(cmd.OutOrStdout(), agg, opts)
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "manifest file, directory (walked for .yaml, .yml, .json) or - for stdin; repeatable")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "default", "namespace of objects that do not name one")
	addRenderFlags(cmd, &opts)
	return cmd
}

// learnPath learns every pod template under path, files in lexical order.
func learnPath(agg *aggregate.Aggregate, path, namespace string, stdin io.Reader, stderr io.Writer) error {
	if path == "-" {
		return learnReader(agg, stdin, "-", namespace, stderr)
	}
	var files []string
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ext := strings.ToLower(filepath.Ext(p))
		if !d.IsDir() && (p == path || ext == ".yaml" || ext == ".yml" || ext == ".json") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(files)
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			return err
		}
		err = learnReader(agg, r, f, namespace, stderr)
		r.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func learnReader(agg *aggregate.Aggregate, r io.Reader, source, namespace string, stderr io.Writer) error {
	objects, skipped, err := manifest.Read(r, source, namespace)
	if err != nil {
		return err
	}
	for _, s := range skipped {
		fmt.Fprintf(stderr, "skipped %s document %d: %s %s has no pod template\n", s.Source, s.Document, s.Kind, s.Name)
	}
	for _, o := range objects {
		defaulting.Apply(o.Pod)
		agg.Add(aggregate.Observe(o.Pod, o.Owner, time.Time{}))
	}
	return nil
}

func addRenderFlags(cmd *cobra.Command, opts *render.Options) {
	cmd.Flags().StringVar(&opts.Format, "format", "vap", "output: "+strings.Join(render.Formats, ", "))
	cmd.Flags().StringVar(&opts.Scope, "scope", "namespace", "one policy per: "+strings.Join(render.Scopes, ", "))
	cmd.Flags().BoolVar(&opts.Enforce, "enforce", false, "vap, vap-shared: bind with validationActions [Deny] instead of [Warn, Audit]; gatekeeper: enforcementAction deny instead of dryrun")
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
