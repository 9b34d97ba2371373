// Package harness gives e2e tests the control plane that `make e2e` started (e2e/hack/cluster.sh):
// its kubeconfig, clients, the built kubectl and helm, the advisor binary, and namespaces that
// clean up after themselves. Tests fail, never skip, when the control plane is missing.
package harness

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Root is the repository's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// Kubeconfig returns the admin kubeconfig of the running control plane ($E2E_KUBECONFIG, set by
// `make e2e`).
func Kubeconfig(t testing.TB) string {
	t.Helper()
	path := os.Getenv("E2E_KUBECONFIG")
	if path == "" {
		t.Fatal("E2E_KUBECONFIG is not set: run the suite with `make e2e` (it starts the control plane)")
	}
	return path
}

// APIServerPid returns the pid of the control plane's kube-apiserver, which cluster.sh keeps in
// pids/kube-apiserver.pid beside the kubeconfig, after checking that the pid still runs it.
func APIServerPid(t testing.TB) int {
	t.Helper()
	file := filepath.Join(filepath.Dir(Kubeconfig(t)), "pids", "kube-apiserver.pid")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the API server's pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	argv, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if name, _, _ := bytes.Cut(argv, []byte{0}); err != nil || filepath.Base(string(name)) != "kube-apiserver" {
		t.Fatalf("%s: pid %d does not run kube-apiserver (%v)", file, pid, err)
	}
	return pid
}

// Bin returns the path of a tool built by `make e2e-tools` (kubectl, helm, …).
func Bin(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("E2E_BIN")
	if dir == "" {
		dir = filepath.Join(Root(), "e2e", "bin")
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s not built: run `make e2e-tools` (%v)", name, err)
	}
	return path
}

// Client returns a controller-runtime client for the admin user.
func Client(t testing.TB) client.Client {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", Kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Run runs a command with the admin kubeconfig in its environment and returns stdout, stderr.
func Run(t testing.TB, stdin string, name string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+Kubeconfig(t))
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), errOut.String(), err
}

// Kubectl runs the built kubectl; a failure fails the test.
func Kubectl(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	out, _, err := Run(t, stdin, Bin(t, "kubectl"), args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// AdvisorEnv names a pod-security-advisor binary to run instead of building this repository's,
// e.g. one built from an older commit to measure a figure before and after a change.
const AdvisorEnv = "E2E_ADVISOR"

// Advisor builds the pod-security-advisor binary once per test process and returns its path
// ($E2E_ADVISOR when set).
func Advisor(t testing.TB) string {
	t.Helper()
	if path := os.Getenv(AdvisorEnv); path != "" {
		return path
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "psa-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "pod-security-advisor")
		cmd := exec.Command("go", "build", "-o", binary, "./cmd/webhook")
		cmd.Dir = Root()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building the advisor: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// Namespace creates a namespace named prefix-<random> and deletes it when the test ends.
func Namespace(t testing.TB, c client.Client, prefix string, labels map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: prefix + "-" + rand.String(5), Labels: labels}}
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), ns) })
	return ns.Name
}

// Eventually polls cond every 200ms until it returns nil or timeout passes, then fails with
// the last error.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
