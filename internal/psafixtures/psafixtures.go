// Package psafixtures loads the labelled pods that k8s.io/pod-security-admission ships in its
// module (test/testdata/{baseline,restricted}/v1.N/{pass,fail}/*.yaml), straight from the module
// cache, for tests that compare our verdicts and policies with the API server's.
package psafixtures

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Fixture is one labelled pod.
type Fixture struct {
	Level   string // baseline or restricted: the level the directory tests
	Version string // e.g. v1.37
	Pass    bool   // the pod passes Level
	Name    string // file name without extension
	Pod     *corev1.Pod
}

func (f Fixture) String() string {
	verdict := "fail"
	if f.Pass {
		verdict = "pass"
	}
	return fmt.Sprintf("%s/%s/%s/%s", f.Level, f.Version, verdict, f.Name)
}

// Load returns every fixture of the newest version directory, sorted, and that version.
func Load() ([]Fixture, string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/pod-security-admission").Output()
	if err != nil {
		return nil, "", fmt.Errorf("locating k8s.io/pod-security-admission: %w", err)
	}
	root := filepath.Join(strings.TrimSpace(string(out)), "test", "testdata")
	version, err := newestVersion(filepath.Join(root, "restricted"))
	if err != nil {
		return nil, "", err
	}
	var all []Fixture
	for _, level := range []string{"baseline", "restricted"} {
		for _, verdict := range []string{"pass", "fail"} {
			files, _ := filepath.Glob(filepath.Join(root, level, version, verdict, "*.yaml"))
			sort.Strings(files)
			for _, file := range files {
				data, err := os.ReadFile(file)
				if err != nil {
					return nil, "", err
				}
				pod := &corev1.Pod{}
				if err := yaml.UnmarshalStrict(data, pod); err != nil {
					return nil, "", fmt.Errorf("%s: %w", file, err)
				}
				name := strings.TrimSuffix(filepath.Base(file), ".yaml")
				all = append(all, Fixture{Level: level, Version: version, Pass: verdict == "pass", Name: name, Pod: pod})
			}
		}
	}
	return all, version, nil
}

func newestVersion(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	best, bestMinor := "", -1
	for _, e := range entries {
		minor, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "v1."))
		if err == nil && minor > bestMinor {
			best, bestMinor = e.Name(), minor
		}
	}
	if best == "" {
		return "", fmt.Errorf("no version directories in %s", dir)
	}
	return best, nil
}
