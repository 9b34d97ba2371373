package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// How long a connection may take. An API server sends a review at once and waits at most
// the webhook's timeoutSeconds (3 s in the chart, 30 s at most) for the answer; a client
// slower than these is cut, so slow senders cannot pile up connections.
const (
	// readHeaderTimeout bounds the TLS handshake and the request's headers.
	readHeaderTimeout = 2 * time.Second
	// ReadTimeout bounds the whole request, headers and body, from its first byte; a slower
	// sender is answered (allowed, outcome timeout) and its connection closed.
	ReadTimeout = 5 * time.Second
	// writeTimeout bounds reading, handling (an owner look-up waits at most 1 s) and
	// answering.
	writeTimeout = ReadTimeout + 5*time.Second
	// idleTimeout is how long a kept-alive connection may wait for its next request: the API
	// server's client keeps idle connections 90 s (client-go's transport default); closing
	// them sooner would race its reuse of them.
	idleTimeout = 90 * time.Second
	// maxHeaderBytes bounds a request's headers: an API server sends well under 1 KiB (a
	// bearer token for webhook authentication adds one or two).
	maxHeaderBytes = 16 << 10
	// shutdownTimeout bounds the wait for requests in flight on stop; none outlives
	// writeTimeout.
	shutdownTimeout = writeTimeout
)

// Server serves the admission webhook over TLS, as a manager Runnable. It exists because
// controller-runtime's webhook server cannot set the http.Server's timeouts; like that
// server, it serves the certificate of CertDir and reloads it when the files change
// (certwatcher), so a rotated certificate is served without a restart.
type Server struct {
	Addr                       string // host:port
	CertDir, CertName, KeyName string
	TLSOpts                    []func(*tls.Config)
	Handler                    http.Handler
	Log                        logr.Logger
	// MaxConns and MaxConnsPerClient bound the open connections (see conns.go); 0: the
	// defaults.
	MaxConns, MaxConnsPerClient int

	started atomic.Bool
}

// NeedLeaderElection: every replica serves.
func (*Server) NeedLeaderElection() bool { return false }

// Start loads the serving certificate, watches it, and serves until ctx is done.
func (s *Server) Start(ctx context.Context) error {
	watcher, err := certwatcher.New(filepath.Join(s.CertDir, s.CertName), filepath.Join(s.CertDir, s.KeyName))
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	go func() {
		if err := watcher.Start(ctx); err != nil {
			s.Log.Error(err, "serving certificate not watched; a renewed one will not be served until a restart")
		}
	}()
	cfg := &tls.Config{GetCertificate: watcher.GetCertificate}
	for _, opt := range s.TLSOpts {
		opt(cfg)
	}
	listener, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	limited := newConnLimit(listener, s.MaxConns, s.MaxConnsPerClient)
	srv := newHTTPServer(s.Handler, newQuietLog(s.Log))
	srv.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.ConnState = limited.trackState
	s.started.Store(true)
	s.Log.Info("serving admission reviews", "addr", listener.Addr().String(), "maxConnections", limited.maxConns, "maxConnectionsPerClient", limited.maxPerClient)
	timeout := shutdownTimeout
	return (&manager.Server{Name: "webhook", Server: srv, Listener: tls.NewListener(limited, cfg), ShutdownTimeout: &timeout}).Start(ctx)
}

// Ready reports whether the serving certificate is loaded and the server is listening.
func (s *Server) Ready() error {
	if !s.started.Load() {
		return errors.New("webhook server not started (or serving certificate not loaded)")
	}
	return nil
}

// newHTTPServer is the webhook's http.Server: every phase of a connection is bounded in time
// and size, and its own errors (a failed handshake, one per misbehaving connection) go to the
// rate-limited log.
func newHTTPServer(h http.Handler, quiet *quietLog) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          quiet.stdLogger(),
	}
}

// secureCipherSuites are the TLS 1.2 suites offered: ECDHE key exchange (forward secrecy)
// with an AEAD cipher. TLS 1.3 suites are all of that kind and not configurable.
var secureCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TLSOptions configures the webhook and metrics servers: minVersion "1.2" or "1.3", the
// secure cipher suites only, and HTTP/2 only when asked for (off by default: the HTTP/2
// rapid-reset and stream-flood attacks).
func TLSOptions(minVersion string, http2 bool) ([]func(*tls.Config), error) {
	var version uint16
	switch minVersion {
	case "1.2":
		version = tls.VersionTLS12
	case "1.3":
		version = tls.VersionTLS13
	default:
		return nil, fmt.Errorf("%q: want 1.2 or 1.3", minVersion)
	}
	protos := []string{"http/1.1"}
	if http2 {
		protos = []string{"h2", "http/1.1"}
	}
	return []func(*tls.Config){func(c *tls.Config) {
		c.MinVersion = version
		c.CipherSuites = secureCipherSuites
		c.NextProtos = protos
	}}, nil
}

// ClientCAOption requires every client of the webhook server to present a certificate signed
// by a CA of the PEM file: the API server does when its admission configuration names a
// kubeconfig with a client certificate for the webhook (README, "Who can reach the webhook").
// Anyone else is refused at the handshake, before a byte of a review is read.
func ClientCAOption(file string) (func(*tls.Config), error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no PEM certificate", file)
	}
	return func(c *tls.Config) {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = pool
	}, nil
}
