package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

// Splicing makes the cost of an incremental save proportional to what changed. A shard whose
// version the caller holds was decoded and checked whole before (by Load or the watch), or
// written from checked records by this store: its records are valid as they are stored. So
// saving changes into it decodes only the records that change, joins them and encodes them,
// and copies every other record's JSON as it is. The document is the one MarshalJSON writes
// (same keys, same order, same bytes), so the state format does not change and readers decode
// every shard whole, with every bound, as before.

// splitDocument is the state document with each record left as its JSON.
type splitDocument struct {
	APIVersion string                     `json:"apiVersion"`
	Kind       string                     `json:"kind"`
	Namespaces map[string]*splitNamespace `json:"namespaces"`
	size       int                        // of the JSON, as read and joined: what marshal writes
}

type splitNamespace struct {
	Workloads map[string]json.RawMessage `json:"workloads"`
}

// documentKind is the kind of a state document (aggregate.MarshalJSON).
const documentKind = "Aggregate"

// split inflates a shard (with Decode's bounds) and splits it into records. It reads only
// shards the caller holds, which were decoded whole before: it scans for the records' bounds
// and leaves checking their content to that. What it cannot scan is joined whole.
func split(cm *corev1.ConfigMap) (*splitDocument, error) {
	raw, err := inflate(cm)
	if err != nil {
		return nil, err
	}
	doc := &splitDocument{Namespaces: map[string]*splitNamespace{}, size: len(raw)}
	sc := &scanner{b: raw}
	err = sc.object(func(field string) error {
		switch field {
		case "apiVersion":
			doc.APIVersion, err = sc.str()
		case "kind":
			doc.Kind, err = sc.str()
		case "namespaces":
			err = sc.object(func(name string) error {
				ns := &splitNamespace{Workloads: map[string]json.RawMessage{}}
				doc.Namespaces[name] = ns
				return sc.object(func(field string) error {
					if field != "workloads" {
						return fmt.Errorf("namespace %s: field %q", name, field)
					}
					return sc.object(func(key string) error {
						v, err := sc.value()
						ns.Workloads[key] = v
						return err
					})
				})
			})
		default:
			err = fmt.Errorf("field %q", field)
		}
		return err
	})
	if err == nil && (doc.APIVersion != aggregate.APIVersion || doc.Kind != documentKind) {
		err = fmt.Errorf("unsupported state: apiVersion %q kind %q", doc.APIVersion, doc.Kind)
	}
	if sc.ws(); err == nil && sc.i != len(sc.b) {
		err = errors.New("data after the document")
	}
	if err != nil {
		return nil, fmt.Errorf("configmap %s/%s: at byte %d: %w", cm.Namespace, cm.Name, sc.i, err)
	}
	return doc, nil
}

// scanner finds the bounds of JSON values, for split: encoding/json would decode every record
// to check it, which is most of a save's time.
type scanner struct {
	b []byte
	i int
}

var errSyntax = errors.New("not the JSON of a state document")

func (sc *scanner) ws() {
	for sc.i < len(sc.b) && (sc.b[sc.i] == ' ' || sc.b[sc.i] == '\t' || sc.b[sc.i] == '\n' || sc.b[sc.i] == '\r') {
		sc.i++
	}
}

// next skips white space and reports whether the next byte is c, taking it if so.
func (sc *scanner) next(c byte) bool {
	sc.ws()
	if sc.i < len(sc.b) && sc.b[sc.i] == c {
		sc.i++
		return true
	}
	return false
}

// object reads {"key": value, …}, calling field for each key with the scanner at its value.
func (sc *scanner) object(field func(key string) error) error {
	if !sc.next('{') {
		return errSyntax
	}
	if sc.next('}') {
		return nil
	}
	for {
		key, err := sc.str()
		if err != nil {
			return err
		}
		if !sc.next(':') {
			return errSyntax
		}
		if err := field(key); err != nil {
			return err
		}
		if sc.next('}') {
			return nil
		}
		if !sc.next(',') {
			return errSyntax
		}
	}
}

// str reads a string.
func (sc *scanner) str() (string, error) {
	sc.ws()
	start := sc.i
	if err := sc.skipString(); err != nil {
		return "", err
	}
	quoted := sc.b[start:sc.i]
	if bytes.IndexByte(quoted, '\\') < 0 {
		return string(quoted[1 : len(quoted)-1]), nil
	}
	var out string
	err := json.Unmarshal(quoted, &out)
	return out, err
}

// skipString passes over the string at sc.i.
func (sc *scanner) skipString() error {
	if sc.i >= len(sc.b) || sc.b[sc.i] != '"' {
		return errSyntax
	}
	for sc.i++; sc.i < len(sc.b); sc.i++ {
		switch sc.b[sc.i] {
		case '\\':
			sc.i++
		case '"':
			sc.i++
			return nil
		}
	}
	return errSyntax
}

// value reads any value and returns its JSON.
func (sc *scanner) value() (json.RawMessage, error) {
	sc.ws()
	start, depth := sc.i, 0
	for sc.i < len(sc.b) {
		switch c := sc.b[sc.i]; c {
		case '"':
			if err := sc.skipString(); err != nil {
				return nil, err
			}
		case '{', '[':
			depth++
			sc.i++
		case '}', ']':
			if depth == 0 {
				return sc.b[start:sc.i], nil
			}
			depth--
			sc.i++
		case ',':
			if depth == 0 {
				return sc.b[start:sc.i], nil
			}
			sc.i++
		default:
			sc.i++
		}
		if depth == 0 && sc.i > start && (sc.b[sc.i-1] == '}' || sc.b[sc.i-1] == ']' || sc.b[sc.i-1] == '"') {
			return sc.b[start:sc.i], nil
		}
	}
	if depth == 0 && sc.i > start {
		return sc.b[start:sc.i], nil
	}
	return nil, errSyntax
}

// join joins group's records into doc: each record group changes is decoded (brought within
// the bounds, as Decode does), joined and encoded again; the others are left as they are.
func (doc *splitDocument) join(group *aggregate.Aggregate) error {
	for name, nsw := range group.Namespaces {
		ns := doc.Namespaces[name]
		if ns == nil {
			ns = &splitNamespace{}
			doc.Namespaces[name] = ns
		}
		if ns.Workloads == nil {
			ns.Workloads = map[string]json.RawMessage{}
		}
		for key, w := range nsw.Workloads {
			one := aggregate.New("")
			if stored, ok := ns.Workloads[key]; ok {
				if err := one.UnmarshalJSON(oneRecord(name, key, stored)); err != nil {
					return err
				}
			}
			change := aggregate.New("")
			put(change, name, key, w) // Merge only reads w
			one.Merge(change)
			var joined *aggregate.Workload
			if ns := one.Namespaces[name]; ns != nil && one.Workloads() == 1 {
				joined = ns.Workloads[key]
			}
			if joined == nil {
				// Bounding renamed the stored record: it was not stored as this store writes.
				return fmt.Errorf("namespace %s: workload %q is not stored under its bounded name", name, key)
			}
			data, err := json.Marshal(joined)
			if err != nil {
				return err
			}
			doc.size += len(data) - len(ns.Workloads[key]) + len(key) + 4
			ns.Workloads[key] = data
		}
	}
	return nil
}

// oneRecord is the state document of one stored record.
func oneRecord(namespace, key string, record json.RawMessage) []byte {
	var b bytes.Buffer
	b.WriteString(`{"apiVersion":`)
	writeString(&b, aggregate.APIVersion)
	b.WriteString(`,"kind":"` + documentKind + `","namespaces":{`)
	writeString(&b, namespace)
	b.WriteString(`:{"workloads":{`)
	writeString(&b, key)
	b.WriteByte(':')
	b.Write(record)
	b.WriteString(`}}}}`)
	return b.Bytes()
}

// marshal writes doc as aggregate.MarshalJSON writes the aggregate it holds, and returns the
// number of records.
func (doc *splitDocument) marshal() ([]byte, int) {
	var b bytes.Buffer
	b.Grow(doc.size + 256)
	b.WriteString(`{"apiVersion":`)
	writeString(&b, aggregate.APIVersion)
	b.WriteString(`,"kind":"` + documentKind + `","namespaces":{`)
	count := 0
	for i, name := range slices.Sorted(maps.Keys(doc.Namespaces)) {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(&b, name)
		b.WriteString(`:{"workloads":{`)
		var records map[string]json.RawMessage
		if ns := doc.Namespaces[name]; ns != nil {
			records = ns.Workloads
		}
		for j, key := range slices.Sorted(maps.Keys(records)) {
			if j > 0 {
				b.WriteByte(',')
			}
			writeString(&b, key)
			b.WriteByte(':')
			b.Write(records[key])
			count++
		}
		b.WriteString(`}}`)
	}
	b.WriteString(`}}`)
	return b.Bytes(), count
}

// writeString writes s as encoding/json writes a string (map keys included).
func writeString(b *bytes.Buffer, s string) {
	data, _ := json.Marshal(s) // a string always marshals
	b.Write(data)
}
