// Command pod-security-advisor learns least-privilege pod policies from what pods use.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "pod-security-advisor",
		Short: "Learn least-privilege pod security policies from what pods really use",
		Long: `pod-security-advisor records the security attributes of pods (host namespaces, capabilities,
hostPath volumes, users, seccomp, …), joins them per namespace and workload, and renders the
least-privilege policy that admits exactly what was seen: Pod Security Standards labels,
ValidatingAdmissionPolicy, legacy PodSecurityPolicy, and a JSON evidence report.

  serve    run the audit-mode admission webhook in a cluster
  convert  learn from manifests offline (no cluster needed) and print a policy
  render   print a policy from a saved aggregate
  summary  one line per namespace: level, restrictions, what blocks the next level
  uninstall  delete the state and policy ConfigMaps serve wrote (what helm uninstall keeps)`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCommand(), newConvertCommand(), newRenderCommand(), newSummaryCommand(), newUninstallCommand())
	return root
}
