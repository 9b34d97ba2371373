package store

import (
	"bytes"
	"encoding/json"
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
}

type splitNamespace struct {
	Workloads map[string]json.RawMessage `json:"workloads"`
}

// documentKind is the kind of a state document (aggregate.MarshalJSON).
const documentKind = "Aggregate"

// split inflates a shard (with Decode's bounds) and splits it into records.
func split(cm *corev1.ConfigMap) (*splitDocument, error) {
	raw, err := inflate(cm)
	if err != nil {
		return nil, err
	}
	doc := &splitDocument{}
	if err := json.Unmarshal(raw, doc); err != nil {
		return nil, err
	}
	if doc.APIVersion != aggregate.APIVersion || doc.Kind != documentKind {
		return nil, fmt.Errorf("unsupported state: apiVersion %q kind %q", doc.APIVersion, doc.Kind)
	}
	if doc.Namespaces == nil {
		doc.Namespaces = map[string]*splitNamespace{}
	}
	return doc, nil
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
