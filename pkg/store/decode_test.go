package store

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// bomb is gzip of n bytes of JSON whitespace: a few KiB that inflate to n.
func bomb(n int) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write([]byte(`{"apiVersion":"pod-security-advisor.io/v1","kind":"Aggregate","namespaces":{}`))
	chunk := bytes.Repeat([]byte{' '}, 1<<20)
	for n > 0 {
		w.Write(chunk[:min(n, len(chunk))])
		n -= len(chunk)
	}
	w.Write([]byte("}"))
	w.Close()
	return buf.Bytes()
}

// TestDecodeBounds: no payload inflates beyond the bound its shard is read with.
func TestDecodeBounds(t *testing.T) {
	shard := func(payload []byte, size string) *corev1.ConfigMap {
		cm := &corev1.ConfigMap{BinaryData: map[string][]byte{PayloadKey: payload}, Data: map[string]string{}}
		if size != "" {
			cm.Data[RawSizeKey] = size
		}
		return cm
	}
	_, good, err := encode(synthetic("r1", 0, 20, 50))
	if err != nil {
		t.Fatal(err)
	}
	rawLen := func() string {
		raw, _, _ := encode(synthetic("r1", 0, 20, 50))
		return strconv.Itoa(len(raw))
	}()
	for _, tc := range []struct {
		name    string
		cm      *corev1.ConfigMap
		wantErr string
	}{
		{"bounded", shard(good, rawLen), ""},
		{"legacy (no size)", shard(good, ""), ""},
		{"bomb claiming little", shard(bomb(100<<20), "100"), "more or less than the 100 bytes"},
		{"size over the bound", shard(good, strconv.Itoa(maxDecoded+1)), "at most"},
		{"size not a number", shard(good, "lots"), "at most"},
		{"legacy bomb", shard(bomb(maxLegacyDecoded+1), ""), "inflates beyond"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.cm)
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestLegacyShard reads a shard as the previous release wrote it (testdata/v1-shard.json:
// 1,500 workloads, bounded only by the compressed size, no RawSizeKey) and saves on top of it:
// the state is laid out again within the raw bound, and nothing is lost.
func TestLegacyShard(t *testing.T) {
	data, err := os.ReadFile("testdata/v1-shard.json")
	if err != nil {
		t.Fatal(err)
	}
	old := &corev1.ConfigMap{}
	if err := json.Unmarshal(data, old); err != nil {
		t.Fatal(err)
	}
	if _, ok := old.Data[RawSizeKey]; ok {
		t.Fatal("testdata is not a legacy shard")
	}
	c := fake.NewClientBuilder().WithObjects(old).Build()
	s := newStore(t, c)
	loaded := mustLoad(t, s)
	if workloads(loaded) != 1500 {
		t.Fatalf("loaded %d workloads", workloads(loaded))
	}
	if _, raw, _ := decodeRaw(old); raw <= DefaultMaxRawBytes {
		t.Fatalf("the legacy shard holds %d bytes of JSON: it tests no migration", raw)
	}
	change := synthetic("r2", 9000, 1, 51)
	mustSave(t, s, change)
	sameState(t, mustLoad(t, s), union(loaded, change))
	for _, cm := range stateMapsOnly(t, c) {
		if _, raw, err := decodeRaw(&cm); err != nil || raw > DefaultMaxRawBytes || cm.Data[RawSizeKey] == "" {
			t.Errorf("%s after the migration: %d bytes of JSON (%q), %v", cm.Name, raw, cm.Data[RawSizeKey], err)
		}
	}
	t.Logf("legacy shard of %d bytes migrated to %d shards", len(old.BinaryData[PayloadKey]), s.Stats().Shards)
}
