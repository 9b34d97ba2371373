package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/pod-security-advisor/pod-security-advisor/internal/state"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/manifest"
)

// readManifests reads the manifests of -f as convert and check take them, and says on stderr
// what was skipped (one line, or each document with -v) and when no pod template was found.
func readManifests(files []string, namespace string, verbose bool, stdin io.Reader, stderr io.Writer) ([]manifest.Object, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("no input: give -f FILE, -f DIR or -f - for stdin")
	}
	objects, skipped, err := manifest.ReadPaths(files, namespace, stdin)
	if err != nil {
		return nil, err
	}
	if verbose {
		for _, s := range skipped {
			fmt.Fprintf(stderr, "skipped %s document %d: %s %s has no pod template\n", s.Source, s.Document, s.Kind, s.Name)
		}
	} else if line := manifest.SkippedSummary(skipped); line != "" {
		fmt.Fprintln(stderr, line+" (-v lists them)")
	}
	if len(objects) == 0 {
		fmt.Fprintln(stderr, "no pod template in the input: nothing to learn or check")
	}
	return objects, nil
}

// stateHint is said when render or summary would wait on a terminal for learned state.
const stateHint = `reading learned state from stdin (end with Ctrl-D), e.g.
  kubectl get configmap -n pod-security-advisor -l pod-security-advisor.io/state -o yaml | pod-security-advisor %s
or give -f FILE (an aggregate saved by convert --format aggregate, or the state ConfigMaps)
`

// readState reads learned state from file ("-": stdin) and returns it with the name errors
// use for it.
func readState(cmd *cobra.Command, file string) (*aggregate.Aggregate, string, error) {
	in, name := cmd.InOrStdin(), "stdin"
	if file == "-" {
		if f, ok := in.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), stateHint, cmd.Name())
			}
		}
	} else {
		f, err := os.Open(file)
		if err != nil {
			return nil, file, manifest.FileError(file, err)
		}
		defer f.Close()
		in, name = f, file
	}
	agg, err := state.Read(in)
	if err != nil {
		return nil, name, fmt.Errorf("%s: %w", name, err)
	}
	return agg, name, nil
}
