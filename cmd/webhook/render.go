package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

func newRenderCommand() *cobra.Command {
	var (
		file string
		opts render.Options
	)
	cmd := &cobra.Command{
		Use:   "render [-f aggregate.json] --format F",
		Short: "Print a policy from a saved aggregate",
		Long: `render reads an aggregate as saved by "convert --format aggregate" (versioned JSON) and prints
the policy in the chosen format and scope.`,
		Example: `  pod-security-advisor convert -f manifests/ --format aggregate > learned.json
  pod-security-advisor render -f learned.json --format pss`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := cmd.InOrStdin()
			name := "stdin"
			if file != "-" {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer f.Close()
				in, name = f, file
			}
			agg, err := readAggregate(in)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return renderTo(cmd.OutOrStdout(), agg, opts)
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "-", "aggregate JSON file, or - for stdin")
	addRenderFlags(cmd, &opts)
	return cmd
}

func readAggregate(r io.Reader) (*aggregate.Aggregate, error) {
	agg := aggregate.New("render")
	dec := json.NewDecoder(r)
	if err := dec.Decode(agg); err != nil {
		return nil, fmt.Errorf("reading aggregate: %w", err)
	}
	return agg, nil
}
