package main

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/pss"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// The summary is what a person reads first: one line per namespace, with the rest a render away.
func newSummaryCommand() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "summary [-f state.json]",
		Short: "One line per namespace: its Pod Security level, what blocks the next, its learned restrictions",
		Long: `summary reads learned state, as render does, and prints one line per namespace: its workloads,
the Pod Security Standards level every workload passes, the number of attributes its learned
policy restricts (the vap-shared annotations), and the checks that keep it from the next
stricter level. render prints the policies themselves.`,
		Example: `  kubectl get configmap -n pod-security-advisor -l pod-security-advisor.io/state -o json |
    pod-security-advisor summary`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			agg, _, err := readState(cmd, file)
			if err != nil {
				return err
			}
			return summarize(cmd.OutOrStdout(), agg)
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "-", "aggregate JSON or state ConfigMaps, or - for stdin")
	return cmd
}

var yamlDocSeparator = regexp.MustCompile(`(?m)^---$`)

func summarize(w io.Writer, agg *aggregate.Aggregate) error {
	restrictions, err := learnedRestrictions(agg)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tWORKLOADS\tLEVEL\tRESTRICTIONS\tBLOCKS THE NEXT LEVEL")
	for _, name := range agg.NamespaceNames() {
		ns := agg.Namespaces[name]
		var v pss.Verdict
		for _, wl := range ns.Workloads {
			v = pss.Join(v, wl.PSS)
		}
		level, blocking := v.Level(), "-"
		if ids := findingIDs(v.Blocking()); len(ids) > 0 {
			blocking = string(pss.Next(level)) + ": " + strings.Join(ids, ", ")
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", name, len(ns.Workloads), level, restrictions[name], blocking)
	}
	return tw.Flush()
}

func findingIDs(findings []pss.Finding) []string {
	var ids []string
	for _, f := range findings {
		ids = append(ids, f.ID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// learnedRestrictions counts, per namespace, the attributes its learned policy restricts: the
// learned annotations on its Namespace in the vap-shared rendering.
func learnedRestrictions(agg *aggregate.Aggregate) (map[string]int, error) {
	var buf bytes.Buffer
	if err := render.Render(&buf, agg, render.Options{Format: render.FormatVAPShared}); err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, part := range yamlDocSeparator.Split(buf.String(), -1) {
		var ns corev1.Namespace
		if err := yaml.Unmarshal([]byte(part), &ns); err != nil {
			return nil, fmt.Errorf("reading the vap-shared rendering: %w", err)
		}
		if ns.Kind != "Namespace" {
			continue
		}
		for key := range ns.Annotations {
			if strings.HasPrefix(key, render.LearnedPrefix) {
				counts[ns.Name]++
			}
		}
	}
	return counts, nil
}
