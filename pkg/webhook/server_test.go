package webhook

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
)

// selfSigned returns a certificate for 127.0.0.1 with the given key, PEM encoded.
func selfSigned(t testing.TB, key any, pub any) (certPEM, keyPEM []byte) {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
}

func keyPairs(t testing.TB) map[string]tls.Certificate {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]tls.Certificate{}
	for name, k := range map[string][2]any{"RSA": {rsaKey, &rsaKey.PublicKey}, "ECDSA": {ecKey, &ecKey.PublicKey}} {
		c, key := selfSigned(t, k[0], k[1])
		pair, err := tls.X509KeyPair(c, key)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = pair
	}
	return out
}

// handshake runs a TLS handshake over a pipe between a server configured by opts and client.
func handshake(t *testing.T, cert tls.Certificate, opts []func(*tls.Config), client *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	for _, o := range opts {
		o(cfg)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srv := tls.Server(a, cfg)
	go func() { _ = srv.Handshake(); a.Close() }()
	client.InsecureSkipVerify = true
	c := tls.Client(b, client)
	err := c.Handshake()
	return c.ConnectionState(), err
}

// TestTLSOptions: with TLS 1.2 allowed, only ECDHE key exchange with AEAD ciphers is agreed
// to, for RSA and ECDSA certificates; 1.3 refuses 1.2; HTTP/2 is offered only when asked.
func TestTLSOptions(t *testing.T) {
	opts12, err := TLSOptions("1.2", false)
	if err != nil {
		t.Fatal(err)
	}
	weak := []uint16{}
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if slices.Contains(s.SupportedVersions, tls.VersionTLS12) && !slices.Contains(secureCipherSuites, s.ID) {
			weak = append(weak, s.ID)
		}
	}
	if len(weak) == 0 {
		t.Fatal("no weak suites to try")
	}
	for name, cert := range keyPairs(t) {
		for _, id := range weak {
			if _, err := handshake(t, cert, opts12, &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{id}}); err == nil {
				t.Errorf("%s: TLS 1.2 with %s accepted", name, tls.CipherSuiteName(id))
			}
		}
		agreed := 0
		for _, id := range secureCipherSuites {
			state, err := handshake(t, cert, opts12, &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{id}})
			if err == nil {
				agreed++
				if state.NegotiatedProtocol == "h2" {
					t.Errorf("%s: HTTP/2 negotiated while off", name)
				}
			}
		}
		if agreed != len(secureCipherSuites)/2 { // each suite names RSA or ECDSA
			t.Errorf("%s: %d secure suites agreed to, want %d", name, agreed, len(secureCipherSuites)/2)
		}
	}
	cert := keyPairs(t)["ECDSA"]
	opts13, _ := TLSOptions("1.3", true)
	if _, err := handshake(t, cert, opts13, &tls.Config{MaxVersion: tls.VersionTLS12}); err == nil {
		t.Error("minimum 1.3 accepted TLS 1.2")
	}
	if state, err := handshake(t, cert, opts13, &tls.Config{NextProtos: []string{"h2", "http/1.1"}}); err != nil || state.NegotiatedProtocol != "h2" {
		t.Errorf("HTTP/2 asked for: negotiated %q, %v", state.NegotiatedProtocol, err)
	}
	if _, err := TLSOptions("1.1", false); err == nil {
		t.Error("TLS 1.1 accepted as minimum")
	}
}

// pipeListener hands the server the ends of in-memory connections, so a test can run it in
// a synctest bubble.
type pipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) dial() net.Conn {
	a, b := net.Pipe()
	l.conns <- a
	return b
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// TestServerCutsSlowClients: the webhook's http.Server cuts a body that trickles in at
// ReadTimeout (the answer still allows) and headers that never end at readHeaderTimeout,
// while an ordinary review on another connection is answered at once.
func TestServerCutsSlowClients(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log lines
		h := NewHandler(Handler{Learner: &recorder{}, Log: log.logger()})
		srv := newHTTPServer(h, newQuietLog(logr.Discard()))
		l := newPipeListener()
		go func() { _ = srv.Serve(l) }()
		defer srv.Close()

		review := marshalReview(t, request(admissionv1.Create, "Pod", podJSON(t, nil)))
		header := fmt.Sprintf("POST /validate-pods HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(review))

		start := time.Now()
		slow := l.dial()
		trickled := make(chan struct{})
		defer func() { slow.Close(); <-trickled }()
		go func() { // one byte a second, never all of it
			defer close(trickled)
			for _, b := range review[:len(review)/2] {
				if _, err := slow.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(time.Second)
			}
		}()
		if _, err := slow.Write([]byte(header)); err != nil {
			t.Fatal(err)
		}
		stalled := l.dial()
		defer stalled.Close()
		if _, err := stalled.Write([]byte(header[:20])); err != nil {
			t.Fatal(err)
		}

		normal := l.dial()
		defer normal.Close()
		go func() { _, _ = normal.Write(append([]byte(header), review...)) }()
		if resp := readAnswer(t, normal); resp == nil || resp.UID != "uid-1" || time.Since(start) != 0 {
			t.Errorf("ordinary review answered after %s: %+v", time.Since(start), resp)
		}

		stalledDone := make(chan time.Duration)
		go func() {
			_, _ = io.Copy(io.Discard, stalled)
			stalledDone <- time.Since(start)
		}()
		resp := readAnswer(t, slow)
		if took := time.Since(start); resp == nil || took != ReadTimeout {
			t.Errorf("slow body answered after %s (read timeout %s): %+v", took, ReadTimeout, resp)
		}
		if resp != nil && resp.UID != "" {
			t.Errorf("an unread review answered with uid %q", resp.UID)
		}
		if _, err := io.Copy(io.Discard, slow); err != nil && !errors.Is(err, io.EOF) {
			t.Logf("slow connection: %v", err)
		}
		if took := <-stalledDone; took != readHeaderTimeout {
			t.Errorf("stalled headers closed after %s, want %s", took, readHeaderTimeout)
		}
		if len(log.got) != 1 || !strings.Contains(log.got[0], OutcomeTimeout) {
			t.Errorf("log: %q", log.got)
		}
	})
}

// readAnswer reads one HTTP response from c and decodes its AdmissionReview.
func readAnswer(t testing.TB, c net.Conn) *admissionv1.AdmissionResponse {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Errorf("no answer: %v", err)
		return nil
	}
	defer resp.Body.Close()
	var ar admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&ar); err != nil || ar.Response == nil || !ar.Response.Allowed {
		t.Errorf("answer %s: %+v, %v", resp.Status, ar, err)
		return nil
	}
	return ar.Response
}

// TestServerNeedsCertificate: without its certificate the server does not start, and is not
// ready.
func TestServerNeedsCertificate(t *testing.T) {
	dir := t.TempDir()
	s := &Server{Addr: "127.0.0.1:0", CertDir: dir, CertName: "tls.crt", KeyName: "tls.key", Handler: http.NotFoundHandler(), Log: logr.Discard()}
	if err := s.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "serving certificate") {
		t.Errorf("started without a certificate: %v", err)
	}
	if s.Ready() == nil {
		t.Error("ready without a certificate")
	}

}

// TestClientCAOption: with a client CA, only clients presenting a certificate it signed
// complete the handshake (as the API server does with a webhook kubeconfig).
func TestClientCAOption(t *testing.T) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	clientKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	clientDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(3),
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		ca, &clientKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "client-ca.crt")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	opt, err := ClientCAOption(file)
	if err != nil {
		t.Fatal(err)
	}
	server := keyPairs(t)["ECDSA"]
	withCert := &tls.Config{MaxVersion: tls.VersionTLS12, Certificates: []tls.Certificate{{Certificate: [][]byte{clientDER}, PrivateKey: clientKey}}}
	if _, err := handshake(t, server, []func(*tls.Config){opt}, withCert); err != nil {
		t.Errorf("a client with a certificate of the CA was refused: %v", err)
	}
	if _, err := handshake(t, server, []func(*tls.Config){opt}, &tls.Config{MaxVersion: tls.VersionTLS12}); err == nil {
		t.Error("a client without a certificate completed the handshake")
	}
	if _, err := ClientCAOption(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing CA file was accepted")
	}
}
