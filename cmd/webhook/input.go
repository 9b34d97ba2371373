package main

import (
	"fmt"
	"io"

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
