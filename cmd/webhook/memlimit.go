package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"k8s.io/apimachinery/pkg/api/resource"
)

// MemoryLimitEnv carries the container's memory limit in bytes; the chart sets it from the
// downward API (resourceFieldRef limits.memory).
const MemoryLimitEnv = "MEMORY_LIMIT"

// memoryLimitShare is the part of the container's limit the Go heap may aim for: the rest is
// left for goroutine stacks, TLS buffers and what the runtime has not yet returned to the OS.
const memoryLimitShare = 0.9

// setMemoryLimit makes the garbage collector work harder near the container's memory limit
// instead of letting the kernel OOM-kill the process at a flush. GOMEMLIMIT, when set, wins.
// It returns the soft limit in bytes, 0 when none was set.
func setMemoryLimit(limit string) (int64, error) {
	if limit == "" || os.Getenv("GOMEMLIMIT") != "" {
		return 0, nil
	}
	q, err := resource.ParseQuantity(limit)
	if err != nil {
		return 0, fmt.Errorf("$%s %q: %w", MemoryLimitEnv, limit, err)
	}
	if q.Sign() <= 0 {
		return 0, nil
	}
	soft := int64(float64(q.Value()) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	return soft, nil
}
