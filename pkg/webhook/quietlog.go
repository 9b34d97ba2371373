package webhook

import (
	"log"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/types"
)

// Lines about requests the webhook could not use: anyone who reaches the port can send them,
// as fast as they like, so they are logged at most this often.
const (
	quietEvery = time.Second
	quietBurst = 5
	// quietErrorChars cuts an error quoted in such a line; the rest is the sender's.
	quietErrorChars = 200
)

// quietLog writes one short line per unusable request, rate-limited, and says on the next
// line it writes how many it left out. It logs at info level: error level adds a stack trace
// (zap's production mode), a kilobyte that tells nothing about a client's bad request.
type quietLog struct {
	log        logr.Logger
	limit      *rate.Limiter
	suppressed atomic.Int64
}

func newQuietLog(l logr.Logger) *quietLog {
	return &quietLog{log: l, limit: rate.NewLimiter(rate.Every(quietEvery), quietBurst)}
}

// Info logs msg with keysAndValues unless the rate is exceeded. Errors and strings, which
// may quote the sender, are cut short.
func (q *quietLog) Info(msg string, keysAndValues ...any) {
	if !q.limit.Allow() {
		q.suppressed.Add(1)
		return
	}
	for i := 1; i < len(keysAndValues); i += 2 {
		switch v := keysAndValues[i].(type) {
		case error:
			keysAndValues[i] = shorten(v.Error())
		case string:
			keysAndValues[i] = shorten(v)
		case types.UID:
			keysAndValues[i] = shorten(string(v))
		}
	}
	if n := q.suppressed.Swap(0); n > 0 {
		keysAndValues = append(keysAndValues, "suppressed", n)
	}
	q.log.Info(msg, keysAndValues...)
}

func shorten(s string) string {
	if len(s) > quietErrorChars {
		return strings.ToValidUTF8(s[:quietErrorChars], "") + "…"
	}
	return s
}

// stdLogger adapts q for net/http's ErrorLog (TLS handshake errors and the like, one per
// misbehaving connection).
func (q *quietLog) stdLogger() *log.Logger {
	return log.New(quietWriter{q}, "", 0)
}

type quietWriter struct{ q *quietLog }

func (w quietWriter) Write(p []byte) (int, error) {
	w.q.Info("webhook server", "error", strings.TrimSpace(string(p)))
	return len(p), nil
}
