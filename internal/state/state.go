// Package state reads learned state as users save it: an aggregate written by
// "convert --format aggregate", or the webhook's state ConfigMaps as kubectl prints them (one
// ConfigMap, or a List of every shard, which are joined), in JSON or YAML.
package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
	"github.com/pod-security-advisor/pod-security-advisor/pkg/store"
)

// Read reads an aggregate document, a state ConfigMap, or a List of state ConfigMaps.
func Read(r io.Reader) (*aggregate.Aggregate, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("empty input: no learned state")
	}
	// kubectl -o yaml: converted; JSON (the usual, and large) is read as it is.
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] != '{' {
		if data, err = yaml.YAMLToJSON(data); err != nil {
			return nil, fmt.Errorf("not JSON or YAML: %w", err)
		}
	}
	var head struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("not a JSON or YAML object: %w", err)
	}
	agg := aggregate.New("render")
	switch head.Kind {
	case "ConfigMap":
		return decodeShard(data)
	case "List", "ConfigMapList":
		for i, item := range head.Items {
			shard, err := decodeShard(item)
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i+1, err)
			}
			agg.Merge(shard)
		}
		return agg, nil
	}
	if err := json.Unmarshal(data, agg); err != nil {
		return nil, fmt.Errorf("reading aggregate: %w", err)
	}
	return agg, nil
}

func decodeShard(data []byte) (*aggregate.Aggregate, error) {
	cm := &corev1.ConfigMap{}
	if err := json.Unmarshal(data, cm); err != nil {
		return nil, err
	}
	return store.Decode(cm)
}
