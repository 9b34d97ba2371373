package render

import (
	"fmt"
	"slices"
	"strings"
)

// Which formats read which Options: a flag a user gives for a format that ignores it is an
// error (CheckFlags), not a silent no-op. A new format that reads Scope or Enforce joins here.
var (
	ScopedFormats   = []string{FormatVAP, FormatPSP, FormatGatekeeper}
	EnforcedFormats = []string{FormatVAP, FormatVAPShared, FormatGatekeeper}
)

// CheckFlags says why opts cannot be rendered as given: an unknown format or scope, or scope
// or enforce set (by the user: scopeSet, enforceSet) for a format that does not read it.
func CheckFlags(opts Options, scopeSet, enforceSet bool) error {
	if !slices.Contains(Formats, opts.Format) {
		return fmt.Errorf("unknown format %q (valid: %s)", opts.Format, strings.Join(Formats, ", "))
	}
	if opts.Scope != "" && !slices.Contains(Scopes, opts.Scope) {
		return fmt.Errorf("unknown scope %q (valid: %s)", opts.Scope, strings.Join(Scopes, ", "))
	}
	if scopeSet && !slices.Contains(ScopedFormats, opts.Format) {
		return fmt.Errorf("--scope does not apply to --format %s (only to %s)", opts.Format, strings.Join(ScopedFormats, ", "))
	}
	if enforceSet && !slices.Contains(EnforcedFormats, opts.Format) {
		return fmt.Errorf("--enforce does not apply to --format %s (only to %s)", opts.Format, strings.Join(EnforcedFormats, ", "))
	}
	return nil
}
