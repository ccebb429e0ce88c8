// Package s3servertest starts a versitygw server for the length of one
// test. It is apart from s3server so that programs that start servers (silt
// dev, silt bench) do not import the testing package.
package s3servertest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/silt-io/silt/localstack/s3server"
)

// StartT starts a server for one test, creates TestBucket in it and stops
// it when the test ends. It fails the test (never skips it) if the server
// cannot start: a missing S3 server must not turn into a silently green
// run. If the test fails, the server's log is attached to the test output.
func StartT(t testing.TB) *s3server.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // may include `go install`
	defer cancel()
	srv, err := s3server.Start(ctx, s3server.Options{})
	if err != nil {
		t.Fatalf("s3server: cannot start versitygw (set $%s, or let it be installed into <module root>/.bin): %v", s3server.EnvBinary, err)
	}
	t.Cleanup(func() {
		if t.Failed() && srv.LogPath() != "" {
			if b, err := os.ReadFile(srv.LogPath()); err == nil && len(b) > 0 {
				t.Logf("versitygw log (%s):\n%s", srv.Endpoint(), b)
			}
		}
		if err := srv.Close(); err != nil {
			t.Errorf("s3server: %v", err)
		}
	})
	if err := srv.CreateBucket(ctx, s3server.TestBucket); err != nil {
		t.Fatalf("s3server: %v", err)
	}
	return srv
}
