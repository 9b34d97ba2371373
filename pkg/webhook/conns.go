package webhook

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Open connections are bounded in number, in all and per client address. The timeouts of
// server.go bound how long a connection may take, not how many there are: a tenant's pod that
// reaches the port could open thousands of kept-alive connections and hold tens of KiB each.
// An API server keeps a few dozen (client-go keeps 25 idle per host) plus one per review in
// flight.
//
// A connection past a bound is not queued (that would make the API server wait behind the
// flood): room is made by closing a connection that is not serving a request, of the client
// holding the most, or else the new connection is closed at once. So a flood from one address
// costs that address its own connections, never the API server's.
const (
	// DefaultMaxConns bounds the open connections: kept alive after a review, one holds at
	// most 36 KiB (BenchmarkIdleConnections), so all of them at most 36 MiB.
	DefaultMaxConns = 1024
	// DefaultMaxConnsPerClient bounds one remote IP address's open connections.
	DefaultMaxConnsPerClient = 256
)

// Reasons a connection was closed by the bounds, as counted.
const (
	connRefusedClient = "per_client" // its address held its bound, all serving requests
	connRefusedTotal  = "total"      // the server held its bound, all serving requests
	connEvicted       = "evicted"    // closed while waiting, to make room for a new one
)

var (
	openConns = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "pod_security_advisor_connections",
		Help: "Open connections to the webhook server.",
	})
	closedConns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pod_security_advisor_connections_closed_total",
		Help: "Connections closed by the connection bounds (--max-connections, --max-connections-per-client), by reason.",
	}, []string{"reason"})
)

func init() { metrics.Registry.MustRegister(openConns, closedConns) }

// connLimit is a net.Listener that keeps the bounds. Accepted connections report their HTTP
// state through trackState (the http.Server's ConnState hook), so that a connection serving a
// request is never the one closed.
type connLimit struct {
	net.Listener
	maxConns, maxPerClient int

	mu      sync.Mutex
	open    int
	clients map[string]map[*limitedConn]struct{}
}

func newConnLimit(l net.Listener, maxConns, maxPerClient int) *connLimit {
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	if maxPerClient <= 0 {
		maxPerClient = DefaultMaxConnsPerClient
	}
	return &connLimit{Listener: l, maxConns: maxConns, maxPerClient: min(maxPerClient, maxConns), clients: map[string]map[*limitedConn]struct{}{}}
}

// limitedConn is one accepted connection. busy is set while it serves a request.
type limitedConn struct {
	net.Conn
	l      *connLimit
	client string
	busy   bool // guarded by l.mu
	once   sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.l.release(c) })
	return c.Conn.Close()
}

func (l *connLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc, evict, reason := l.admit(c)
		if evict != nil {
			closedConns.WithLabelValues(connEvicted).Inc()
			_ = evict.Close()
		}
		if lc != nil {
			return lc, nil
		}
		closedConns.WithLabelValues(reason).Inc()
		_ = c.Close()
	}
}

// admit counts c in, choosing a waiting connection to close if a bound is reached; nil and
// the reason when there is no room.
func (l *connLimit) admit(c net.Conn) (admitted, evict *limitedConn, reason string) {
	client := clientOf(c.RemoteAddr())
	l.mu.Lock()
	defer l.mu.Unlock()
	own := l.clients[client]
	switch {
	case len(own) >= l.maxPerClient:
		if evict = waiting(own); evict == nil {
			return nil, nil, connRefusedClient
		}
	case l.open >= l.maxConns:
		if evict = l.waitingOfBiggest(); evict == nil {
			return nil, nil, connRefusedTotal
		}
	}
	if evict != nil {
		l.forget(evict)
	}
	if own == nil {
		own = map[*limitedConn]struct{}{}
		l.clients[client] = own
	}
	lc := &limitedConn{Conn: c, l: l, client: client}
	own[lc] = struct{}{}
	l.open++
	openConns.Inc()
	return lc, evict, ""
}

// waiting is one of conns not serving a request, nil if all are.
func waiting(conns map[*limitedConn]struct{}) *limitedConn {
	for c := range conns {
		if !c.busy {
			return c
		}
	}
	return nil
}

// waitingOfBiggest is a waiting connection of the client holding the most connections that
// has one.
func (l *connLimit) waitingOfBiggest() *limitedConn {
	var best *limitedConn
	most := 0
	for _, conns := range l.clients {
		if len(conns) <= most {
			continue
		}
		if c := waiting(conns); c != nil {
			best, most = c, len(conns)
		}
	}
	return best
}

// forget uncounts c; it is called once per connection, from release or when c is chosen to
// be closed (its Close then finds it gone).
func (l *connLimit) forget(c *limitedConn) {
	own := l.clients[c.client]
	if _, ok := own[c]; !ok {
		return
	}
	delete(own, c)
	if len(own) == 0 {
		delete(l.clients, c.client)
	}
	l.open--
	openConns.Dec()
}

func (l *connLimit) release(c *limitedConn) {
	l.mu.Lock()
	l.forget(c)
	l.mu.Unlock()
}

// trackState is the http.Server's ConnState hook: a connection is busy from its request's
// first byte until it is idle again.
func (l *connLimit) trackState(c net.Conn, state http.ConnState) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	switch state {
	case http.StateActive, http.StateIdle:
		l.mu.Lock()
		lc.busy = state == http.StateActive
		l.mu.Unlock()
	case http.StateClosed, http.StateHijacked:
		l.release(lc)
	}
}

// clientOf is the IP address of a remote address (its port left out).
func clientOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
