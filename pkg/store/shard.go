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
	ReadmeKey            = "README"
)

// maxDecompressed bounds what one shard may inflate to, so a hostile or broken payload cannot
// exhaust memory: a shard is at most ~1 MiB compressed and JSON state compresses ~10-30×.
const maxDecompressed = 256 << 20

// Decode reads the aggregate stored in one state shard. It fails on a missing payload, bad
// gzip, bad JSON or another schema version; the caller decides what to do with the shard.
func Decode(cm *corev1.ConfigMap) (*aggregate.Aggregate, error) {
	payload, ok := cm.BinaryData[PayloadKey]
	if !ok {
		return nil, fmt.Errorf("configmap %s/%s: no binaryData[%q]", cm.Namespace, cm.Name, PayloadKey)
	}
	zr, err := gzip.NewReader(bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("configmap %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, maxDecompressed+1))
	if err == nil && len(raw) > maxDecompressed {
		err = errors.New("state larger than 256 MiB")
	}
	if err != nil {
		return nil, fmt.Errorf("configmap %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	agg := aggregate.New("")
	if err := json.Unmarshal(raw, agg); err != nil {
		return nil, fmt.Errorf("configmap %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	return agg, nil
}

// encode returns the versioned JSON of agg and its gzip compression. The gzip header carries
// no name or time, so equal state gives equal bytes and unchanged shards are not rewritten.
func encode(agg *aggregate.Aggregate) (raw, compressed []byte, err error) {
	raw, err = json.Marshal(agg)
	if err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(raw); err != nil {
		return nil, nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	return raw, buf.Bytes(), nil
}

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

func nextPow2(n int) int {
	p := 1
	for p < n {
		p *= 2
	}
	return p
}
