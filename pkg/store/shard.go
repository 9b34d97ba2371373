package store

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/aggregate"
)

// Names of the labels, annotations and keys of the state ConfigMaps. Users and the caller's
// ConfigMap watch select shards by LabelState; copies of corrupted shards carry LabelCorrupt
// instead, so that no reader ever joins them.
const (
	LabelManagedBy       = "app.kubernetes.io/managed-by"
	ManagedBy            = "pod-security-advisor"
	LabelState           = "pod-security-advisor.io/state"
	LabelShards          = "pod-security-advisor.io/shards"
	LabelCorrupt         = "pod-security-advisor.io/corrupt"
	AnnotationCopiedFrom = "pod-security-advisor.io/copied-from"
	AnnotationReason     = "pod-security-advisor.io/corrupt-reason"
	PayloadKey           = "state.json.gz"
	// RawSizeKey holds the uncompressed size of PayloadKey in bytes (decimal). Shards written
	// before it existed have none.
	RawSizeKey = "state.json.bytes"
	ReadmeKey  = "README"
)

// Inflation bounds. A shard holds at most DefaultMaxRawBytes of JSON: about 500 workloads of
// ~2 KiB, so 100,000 workloads take 256 shards (1024 shards, the most, hold five times that)
// and a flush rewrites only small shards; and a reader needs a few MiB per shard whatever a
// hostile payload claims. Decode accepts twice that, so a later release may raise the bound
// without this one calling its shards corrupt. Shards without RawSizeKey were written by a
// release that bounded only the compressed size (~900 KiB, at ~20:1 about 18 MiB of JSON):
// they are read up to maxLegacyDecoded, and rewritten bounded at their next save.
const (
	DefaultMaxRawBytes = 1 << 20
	maxDecoded         = 2 * DefaultMaxRawBytes
	maxLegacyDecoded   = 64 << 20
)

// Decode reads the aggregate stored in one state shard. It fails on a missing payload, bad
// gzip, a payload that inflates beyond its bound (or not to the size RawSizeKey says), bad
// JSON or another schema version; the caller decides what to do with the shard.
func Decode(cm *corev1.ConfigMap) (*aggregate.Aggregate, error) {
	agg, _, err := decodeRaw(cm)
	return agg, err
}

// decodeRaw is Decode that also returns the size of the JSON.
func decodeRaw(cm *corev1.ConfigMap) (*aggregate.Aggregate, int, error) {
	raw, err := inflate(cm)
	if err != nil {
		return nil, 0, err
	}
	agg := aggregate.New("")
	// UnmarshalJSON checks the syntax itself; json.Unmarshal would scan the input once more.
	if err := agg.UnmarshalJSON(raw); err != nil {
		return nil, 0, fmt.Errorf("configmap %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	return agg, len(raw), nil
}

// inflate returns the JSON of a shard, refusing a payload that is missing, is not gzip, or
// inflates beyond its bound (or not to the size RawSizeKey says).
func inflate(cm *corev1.ConfigMap) ([]byte, error) {
	fail := func(err error) ([]byte, error) {
		return nil, fmt.Errorf("configmap %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	payload, ok := cm.BinaryData[PayloadKey]
	if !ok {
		return fail(fmt.Errorf("no binaryData[%q]", PayloadKey))
	}
	limit, exact := maxLegacyDecoded, -1
	if s, ok := cm.Data[RawSizeKey]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxDecoded {
			return fail(fmt.Errorf("data[%q] = %.20q: want a size of at most %d bytes", RawSizeKey, s, maxDecoded))
		}
		limit, exact = n, n
	}
	zr, err := gzip.NewReader(bytes.NewReader(payload))
	if err != nil {
		return fail(err)
	}
	var raw []byte
	if exact >= 0 {
		// The size is known: one buffer, and one byte more shows a payload that inflates further.
		raw = make([]byte, exact+1)
		var n int
		n, err = io.ReadFull(zr, raw)
		raw = raw[:n]
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = nil
		}
	} else {
		raw, err = io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	}
	switch {
	case err != nil:
		return fail(err)
	case len(raw) > limit && exact < 0:
		return fail(fmt.Errorf("payload inflates beyond %d bytes", limit))
	case exact >= 0 && len(raw) != exact:
		return fail(fmt.Errorf("payload inflates to more or less than the %d bytes data[%q] says", exact, RawSizeKey))
	}
	return raw, nil
}

// encode returns the versioned JSON of agg and its compression (see compress).
func encode(agg *aggregate.Aggregate) (raw, compressed []byte, err error) {
	// MarshalJSON's output is compact already; json.Marshal would compact it once more.
	raw, err = agg.MarshalJSON()
	if err != nil {
		return nil, nil, err
	}
	compressed, err = compress(raw)
	return raw, compressed, err
}

// compress returns the gzip compression of raw. The gzip header carries no name or time, so
// equal state gives equal bytes and unchanged shards are not rewritten.
func compress(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// gzipWriters are reused: a compressor allocates about 1 MiB of tables. The default level
// compresses state about 5% worse than the best, and half again as fast: a flush spends
// most of its time compressing the shards it rewrites.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
	return zw
}}

// shardOf places a workload: fnv-1a of "<namespace>/<kind>/<name>" modulo the shard count.
// With power-of-two counts, doubling only ever moves a workload from shard i to i+S.
func shardOf(namespace, key string, shards int) int {
	h := fnv.New32a()
	h.Write([]byte(namespace))
	h.Write([]byte{'/'})
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(shards))
}

// shardName is the ConfigMap name of shard i.
func shardName(name string, i int) string { return fmt.Sprintf("%s-state-%d", name, i) }

// shardIndex parses a ConfigMap name made by shardName; -1 if it is not one.
func shardIndex(name, cmName string) int {
	s, ok := strings.CutPrefix(cmName, name+"-state-")
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 || strconv.Itoa(i) != s {
		return -1
	}
	return i
}

// contentHash names a corrupted shard's copy by what it holds, so that copying the same
// evidence twice is a no-op and different evidence never collides.
func contentHash(cm *corev1.ConfigMap) string {
	data, _ := json.Marshal(struct {
		Data       map[string]string `json:"data"`
		BinaryData map[string][]byte `json:"binaryData"`
	}{cm.Data, cm.BinaryData})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:5])
}

func readme(name string, i, shards int) string {
	return fmt.Sprintf(`This ConfigMap is internal state of pod-security-advisor: shard %d of %d of what the
webhook has learned about the pods in this cluster (a gzip-compressed JSON document in
binaryData[%q]). It is not the policy: the learned policy is in the ConfigMap %q.
Do not edit it; deleting it only loses what no running replica still remembers.
`, i, shards, PayloadKey, name+"-policy")
}

// labelShards is the shard count a shard says it was written with, 0 if none is valid.
func labelShards(cm *corev1.ConfigMap) int {
	c, err := strconv.Atoi(cm.Labels[LabelShards])
	if err != nil || c <= 0 || c > maxShards {
		return 0
	}
	return nextPow2(c)
}

// workloads counts the records of agg (its own counter is not kept by put).
func workloads(agg *aggregate.Aggregate) int {
	n := 0
	for _, ns := range agg.Namespaces {
		n += len(ns.Workloads)
	}
	return n
}

func nextPow2(n int) int {
	p := 1
	for p < n {
		p *= 2
	}
	return p
}
