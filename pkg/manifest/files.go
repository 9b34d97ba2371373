package manifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ReadPaths reads every manifest under paths, as `kubectl apply -f` takes them: a file, a
// directory (walked for .yaml, .yml and .json files, in lexical order) or "-" for stdin. It
// stops at the first error, which names the file.
func ReadPaths(paths []string, defaultNamespace string, stdin io.Reader) ([]Object, []Skipped, error) {
	var objects []Object
	var skipped []Skipped
	read := func(r io.Reader, source string) error {
		o, s, err := Read(r, source, defaultNamespace)
		objects, skipped = append(objects, o...), append(skipped, s...)
		return err
	}
	for _, path := range paths {
		if path == "-" {
			if err := read(stdin, "-"); err != nil {
				return nil, nil, err
			}
			continue
		}
		files, err := walk(path)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range files {
			r, err := os.Open(f)
			if err != nil {
				return nil, nil, FileError(f, err)
			}
			err = read(r, f)
			r.Close()
			if err != nil {
				return nil, nil, err
			}
		}
	}
	return objects, skipped, nil
}

func walk(path string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return FileError(p, err)
		}
		ext := strings.ToLower(filepath.Ext(p))
		if !d.IsDir() && (p == path || ext == ".yaml" || ext == ".yml" || ext == ".json") {
			files = append(files, p)
		}
		return nil
	})
	slices.Sort(files)
	return files, err
}

// FileError says what is wrong with a file in words, not as the failed system call.
func FileError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: no such file", path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s: permission denied", path)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", path, pe.Err)
	}
	return err
}

// SkippedSummary is one line on the skipped documents, kinds by count (then name):
// "skipped 47 objects without pod templates: CustomResourceDefinition ×20, Service ×12"; empty
// when none were skipped.
func SkippedSummary(skipped []Skipped) string {
	if len(skipped) == 0 {
		return ""
	}
	counts := map[string]int{}
	for _, s := range skipped {
		counts[s.Kind]++
	}
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, b string) int {
		if counts[a] != counts[b] {
			return counts[b] - counts[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s ×%d", k, counts[k])
	}
	noun := "objects"
	if len(skipped) == 1 {
		noun = "object"
	}
	return fmt.Sprintf("skipped %d %s without pod templates: %s", len(skipped), noun, strings.Join(parts, ", "))
}
