package webhook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/types"
)

// lines collects what a logger writes, one entry per line.
type lines struct{ got []string }

func (l *lines) logger() logr.Logger {
	return funcr.New(func(prefix, args string) { l.got = append(l.got, prefix+" "+args) }, funcr.Options{})
}

// TestQuietLog: a flood of bad requests writes quietBurst lines, then one per quietEvery
// saying how many were left out.
func TestQuietLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log lines
		h := NewHandler(Handler{Learner: &recorder{}, Log: log.logger()})
		bad := request(admissionv1.Create, "Pod", []byte(`{"spec":{"containers":"nope"}}`))
		flood := func(n int) {
			for range n {
				h.Handle(context.Background(), bad)
			}
		}
		flood(100)
		if len(log.got) != quietBurst {
			t.Fatalf("%d lines for 100 bad requests, want %d", len(log.got), quietBurst)
		}
		time.Sleep(quietEvery)
		flood(1)
		if len(log.got) != quietBurst+1 || !strings.Contains(log.got[quietBurst], fmt.Sprintf(`"suppressed"=%d`, 100-quietBurst)) {
			t.Errorf("line after the flood: %q", log.got[quietBurst:])
		}
	})
}

func TestQuietLogShortens(t *testing.T) {
	var log lines
	q := newQuietLog(log.logger())
	q.Info("bad", "error", errors.New(strings.Repeat("é", 1000)), "name", strings.Repeat("n", 1000), "uid", types.UID(strings.Repeat("u", 1000)))
	if len(log.got) != 1 || len(log.got[0]) > 3*quietErrorChars+100 {
		t.Errorf("line of %d bytes: %.300q", len(log.got[0]), log.got)
	}
}
