// Package localstacktest holds the test side of localstack: clusters
// that live as long as a test (StartT) and the real silt binary run as a
// separate process (BuildBinary, StartProcess). It is apart from localstack
// so that programs using localstack (silt bench, silt dev) do not import
// the testing package.
package localstacktest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/silt-io/silt/localstack"
)

// StartT starts a cluster for one test and closes it when the test ends.
// Agent logs go to the test log. It fails the test if the cluster cannot
// start (an S3 server included): it never skips.
func StartT(t testing.TB, opts localstack.Options) *localstack.Cluster {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = TestLogger(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := localstack.Start(ctx, opts)
	if err != nil {
		t.Fatalf("localstack: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("localstack close: %v", err)
		}
	})
	return c
}

// TestLogger returns a logger that writes warnings and errors to t.Log.
func TestLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}
