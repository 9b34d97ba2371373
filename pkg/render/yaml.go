package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"
)

// stream writes a YAML stream: header comments, then documents separated by "---", each with
// its own comment lines. The first error sticks.
type stream struct {
	w   io.Writer
	err error
}

func (s *stream) printf(format string, args ...any) {
	if s.err == nil {
		_, s.err = fmt.Fprintf(s.w, format, args...)
	}
}

// comment writes each line as a YAML comment. Line breaks inside a line (from names or
// reasons) are flattened so they cannot end the comment.
func (s *stream) comment(lines ...string) {
	for _, l := range lines {
		l = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(l)
		s.printf("%s\n", strings.TrimRight("# "+l, " "))
	}
}

// doc writes one document: comments, then obj as YAML with any "status" dropped (the API
// types marshal an empty status, which is noise in something meant to be applied).
func (s *stream) doc(obj any, comments ...string) {
	if s.err != nil {
		return
	}
	data, err := json.Marshal(obj)
	if err != nil {
		s.err = err
		return
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep integers exact
	if err := dec.Decode(&m); err != nil {
		s.err = err
		return
	}
	delete(m, "status")
	out, err := yaml.Marshal(m)
	if err != nil {
		s.err = err
		return
	}
	s.printf("---\n")
	s.comment(comments...)
	s.printf("%s", out)
}
