package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// version and commit are set by `make build` (-ldflags -X main.version=… -X main.commit=…).
var (
	version = "dev"
	commit  = "unknown"
)

func versionLine() string {
	return fmt.Sprintf("pod-security-advisor %s (commit %s, %s)", version, commit, runtime.Version())
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version (as --version)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), versionLine())
			return err
		},
	}
}
