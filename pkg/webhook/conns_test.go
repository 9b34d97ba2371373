package webhook

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
)

// connServer serves reviews over TLS on 127.0.0.1 through a connLimit with the given bounds.
func connServer(t testing.TB, maxConns, maxPerClient int) (*connLimit, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	limited := newConnLimit(ln, maxConns, maxPerClient)
	srv := newHTTPServer(NewHandler(Handler{Learner: &recorder{}, Log: logr.Discard()}), newQuietLog(logr.Discard()))
	srv.ConnState = limited.trackState
	cert := keyPairs(t)["ECDSA"]
	go func() { _ = srv.Serve(tls.NewListener(limited, &tls.Config{Certificates: []tls.Certificate{cert}})) }()
	t.Cleanup(func() { _ = srv.Close() })
	return limited, ln.Addr().String()
}

// dialFrom opens a TCP connection to addr from the loopback address from (all of 127.0.0.0/8
// is local on Linux), closed when the test ends.
func dialFrom(t testing.TB, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer reports whether the server has closed c: a read ends within 200 ms.
func closedByServer(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func (l *connLimit) counts() (open int, clients map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	clients = map[string]int{}
	for c, conns := range l.clients {
		clients[c] = len(conns)
	}
	return l.open, clients
}

// reviewFrom posts one AdmissionReview over a new TLS connection from the address from and
// returns the connection, kept alive and idle.
func reviewFrom(t testing.TB, from, addr string) (net.Conn, error) {
	t.Helper()
	c := tls.Client(dialFrom(t, from, addr), &tls.Config{InsecureSkipVerify: true})
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	body := marshalReview(t, request(admissionv1.Create, "Pod", podJSON(t, nil)))
	if _, err := fmt.Fprintf(c, "POST /validate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body); err != nil {
		return nil, err
	}
	if resp := readAnswer(t, c); resp == nil || resp.UID != "uid-1" {
		return nil, fmt.Errorf("no allowed answer: %+v", resp)
	}
	return c, nil
}

func idleFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	c, err := reviewFrom(t, from, addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestConnectionBounds: one address that opens connections without end keeps at most its
// bound, each new one closing one of its own that waits; when the server is full, a new
// client's review is answered at once, in the place of a waiting connection of the address
// holding the most; and an address whose connections all serve requests gets no more.
func TestConnectionBounds(t *testing.T) {
	const maxConns, maxPerClient = 8, 4
	l, addr := connServer(t, maxConns, maxPerClient)
	evicted := testutil.ToFloat64(closedConns.WithLabelValues(connEvicted))
	refused := testutil.ToFloat64(closedConns.WithLabelValues(connRefusedClient))

	var flood []net.Conn
	for range 10 { // one review each, then kept alive: waiting
		flood = append(flood, idleFrom(t, "127.0.0.1", addr))
	}
	for range 3 {
		idleFrom(t, "127.0.0.3", addr)
	}
	waitFor(t, func() bool { open, _ := l.counts(); return open == maxPerClient+3 })
	closed := 0
	for _, c := range flood {
		if closedByServer(c) {
			closed++
		}
	}
	if open, clients := l.counts(); closed != 10-maxPerClient || clients["127.0.0.1"] != maxPerClient || open != maxPerClient+3 {
		t.Errorf("after a flood of 10 from one address: %d of them closed, open %d %v; want %d closed and %d open from it",
			closed, open, clients, 10-maxPerClient, maxPerClient)
	}

	idleFrom(t, "127.0.0.4", addr) // the server is full now
	waitFor(t, func() bool { open, _ := l.counts(); return open == maxConns })
	start := time.Now()
	if _, err := reviewFrom(t, "127.0.0.2", addr); err != nil {
		t.Fatalf("a review from a new address while the server is full: %v", err)
	}
	t.Logf("review answered in %s with %d connections open", time.Since(start), maxConns)
	if open, clients := l.counts(); open > maxConns || clients["127.0.0.1"] != maxPerClient-1 {
		t.Errorf("open %d %v: want at most %d, the place taken from the biggest holder 127.0.0.1", open, clients, maxConns)
	}

	// Requests whose bodies are still arriving are being served: never closed for room.
	l2, addr2 := connServer(t, maxConns, 2)
	for range 2 {
		c := tls.Client(dialFrom(t, "127.0.0.5", addr2), &tls.Config{InsecureSkipVerify: true})
		if _, err := fmt.Fprintf(c, "POST /validate HTTP/1.1\r\nHost: webhook\r\nContent-Length: 1000\r\n\r\n{"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool {
		l2.mu.Lock()
		defer l2.mu.Unlock()
		n := 0
		for c := range l2.clients["127.0.0.5"] {
			if c.busy {
				n++
			}
		}
		return n == 2
	})
	third := dialFrom(t, "127.0.0.5", addr2)
	if !closedByServer(third) {
		t.Error("a third connection from an address whose two are serving requests was kept")
	}
	if got := testutil.ToFloat64(closedConns.WithLabelValues(connEvicted)) - evicted; got != 10-maxPerClient+1 {
		t.Errorf("evicted counter grew by %v, want %d", got, 10-maxPerClient+1)
	}
	if got := testutil.ToFloat64(closedConns.WithLabelValues(connRefusedClient)) - refused; got != 1 {
		t.Errorf("per-client refusals grew by %v, want 1", got)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5 s")
		}
	}
}

// BenchmarkIdleConnections: the heap one kept-alive TLS connection holds after one review,
// which sizes DefaultMaxConns (make bench prints it). Client and server run in this process,
// so the figure is both ends: an upper bound of the server's share.
func BenchmarkIdleConnections(b *testing.B) {
	const n = 256
	_, addr := connServer(b, DefaultMaxConns, n)
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		conns := make([]net.Conn, n)
		for i := range conns {
			c, err := reviewFrom(b, "127.0.0.1", addr)
			if err != nil {
				b.Fatal(err)
			}
			conns[i] = c
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/n, "heap-B/conn-both-ends")
		for _, c := range conns {
			c.Close()
		}
	}
}
