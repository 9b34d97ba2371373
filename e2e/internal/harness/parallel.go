package harness

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Parallel runs fn(0..n-1) on at most workers goroutines: tests bound their concurrent API
// requests, since the control plane shares a small machine.
func Parallel(workers, n int, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// ErrorList collects errors from goroutines; Check fails the test with all of them counted
// and the first ten, sorted, shown.
type ErrorList struct {
	mu   sync.Mutex
	errs []string
}

// Add records one error.
func (e *ErrorList) Add(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

// Check fails the test if any error was added; what says what was being done.
func (e *ErrorList) Check(t testing.TB, what string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.errs) > 0 {
		slices.Sort(e.errs)
		t.Fatalf("%s: %d errors:\n  %s", what, len(e.errs), strings.Join(e.errs[:min(10, len(e.errs))], "\n  "))
	}
}
