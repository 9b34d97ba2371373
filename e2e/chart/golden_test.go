package chart

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// generatedPEM matches the values Helm's genCA/genSignedCert produce anew on every render.
var generatedPEM = regexp.MustCompile(`(?m)^(\s*(?:tls\.crt|tls\.key|ca\.crt|caBundle): )\S+$`)

// goldenText is the rendering as `helm install` would send it, file by file, then NOTES.txt.
func goldenText(files map[string]string, mask bool) string {
	var b strings.Builder
	var notes string
	for _, path := range slices.Sorted(maps.Keys(files)) {
		text := strings.TrimSpace(files[path])
		if strings.HasSuffix(path, "NOTES.txt") {
			notes = text
			continue
		}
		if isBlank(text) {
			continue
		}
		b.WriteString("---\n# Source: " + path + "\n" + text + "\n")
	}
	b.WriteString("=== NOTES.txt\n" + notes + "\n")
	out := b.String()
	if mask {
		out = generatedPEM.ReplaceAllString(out, "${1}<generated>")
	}
	return out
}

// TestGolden compares the rendered chart with testdata/<value set>.golden; -update rewrites.
func TestGolden(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			files := mustRender(t, releaseName, releaseNamespace, vs.values)
			got := goldenText(files, vs.name == "generated-certs")
			if vs.name != "generated-certs" {
				// Everything but generated certificates is deterministic.
				if again := goldenText(mustRender(t, releaseName, releaseNamespace, vs.values), false); again != got {
					t.Fatal("two renderings of the same values differ")
				}
			}
			path := filepath.Join("testdata", vs.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("rendering differs from %s (run with -update to accept):\n%s", path, diff(string(want), got))
			}
		})
	}
}

// diff lists the lines that differ, with their line numbers; enough to see what changed.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 40; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want: %s\n  got:  %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}
