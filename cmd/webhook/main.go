// Command pod-security-advisor learns least-privilege pod policies from what pods use.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	err := newRootCommand().Execute()
	if err == nil {
		return
	}
	var code exitCode
	if errors.As(err, &code) {
		os.Exit(code.code)
	}
	fmt.Fprintln(os.Stderr, "error:", err)
	var usage usageError
	if errors.As(err, &usage) {
		os.Exit(2)
	}
	os.Exit(1)
}

// exitCode ends the command with a status and nothing more said: check's 1 when a workload
// would be denied, after its report.
type exitCode struct{ code int }

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError is bad input to a command whose status tells it apart from a verdict (check: 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

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
  check    say whether manifests pass a learned policy, listing every violation
  inspect  learn from the pods of a running cluster in one pass (read-only) and print a policy
  summary  one line per namespace: level, restrictions, what blocks the next level
  uninstall  delete the state and policy ConfigMaps serve wrote (what helm uninstall keeps)
  version  print the version, commit and Go version`,
		Version:       versionLine(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(newServeCommand(), newConvertCommand(), newRenderCommand(), newCheckCommand(), newInspectCommand(),
		newSummaryCommand(), newUninstallCommand(), newVersionCommand())
	return root
}
