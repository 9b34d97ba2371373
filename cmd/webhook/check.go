package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pod-security-advisor/pod-security-advisor/internal/check"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/manifest"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/render"
)

// Output formats of check.
const (
	checkText = "text"
	checkJSON = "json"
)

func newCheckCommand() *cobra.Command {
	var (
		policyFile, output, scope, namespace string
		files                                []string
		verbose                              bool
	)
	cmd := &cobra.Command{
		Use:   "check --policy FILE -f FILE|DIR|- [-f ...]",
		Short: "Say whether the pods of manifests pass a learned policy, listing every violation",
		Long: `check reads manifests exactly as convert does (same kinds, same API-server defaulting) and
evaluates the pod of every workload against a learned policy, with the API server's own
ValidatingAdmissionPolicy code, in process: no cluster is needed. It lists every violated
restriction of every workload, with the learned message and the offending fields, where the
API server would stop at the first denied object.

The policy is learned state (an aggregate saved by "convert --format aggregate", or the state
ConfigMaps as "kubectl get configmap -l pod-security-advisor.io/state -o json|yaml" prints
them), rendered as an enforced vap of --scope; or a vap or vap-shared rendering, used as it is
(bindings that only warn or audit are reported too, and marked).

Exit status: 0 when every workload passes, 1 when some would be denied, 2 on bad input.`,
		Example: `  kubectl get configmap -n pod-security-advisor -l pod-security-advisor.io/state -o yaml > state.yaml
  pod-security-advisor check --policy state.yaml -f deploy/
  helm template my-release ./chart | pod-security-advisor check --policy vap.yaml -f - -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if policyFile == "" {
				return usageError{fmt.Errorf("no policy: give --policy FILE (learned state or a vap rendering)")}
			}
			if !slices.Contains([]string{checkText, checkJSON}, output) {
				return usageError{fmt.Errorf("unknown output %q (valid: %s, %s)", output, checkText, checkJSON)}
			}
			if !slices.Contains(render.Scopes, scope) {
				return usageError{fmt.Errorf("unknown scope %q (valid: %s)", scope, strings.Join(render.Scopes, ", "))}
			}
			data, err := os.ReadFile(policyFile)
			if err != nil {
				return usageError{manifest.FileError(policyFile, err)}
			}
			set, err := check.LoadPolicy(data, scope)
			if err != nil {
				return usageError{fmt.Errorf("%s: %w", policyFile, err)}
			}
			objects, err := readManifests(files, namespace, verbose, cmd.InOrStdin(), cmd.ErrOrStderr())
			if err != nil {
				return usageError{err}
			}
			res, err := check.Check(cmd.Context(), set, objects)
			if err != nil {
				return usageError{err}
			}
			write := check.WriteText
			if output == checkJSON {
				write = check.WriteJSON
			}
			if err := write(cmd.OutOrStdout(), res); err != nil {
				return err
			}
			if res.Denied > 0 {
				return exitCode{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&policyFile, "policy", "", "learned state (aggregate or state ConfigMaps, JSON or YAML) or a vap / vap-shared rendering")
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "manifest file, directory (walked for .yaml, .yml, .json) or - for stdin; repeatable")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "default", "namespace of objects that do not name one")
	cmd.Flags().StringVar(&scope, "scope", render.ScopeNamespace, "learned state: one policy per "+strings.Join(render.Scopes, ", ")+", as render")
	cmd.Flags().StringVarP(&output, "output", "o", checkText, "text or json")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list each skipped document, not only their count by kind")
	return cmd
}
