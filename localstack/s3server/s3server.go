// Package s3server starts a real S3-compatible server (versitygw with its
// posix backend) on a loopback port, so that silt's S3 drivers and end-to-end
// tests run against the wire protocol rather than a fake.
//
// versitygw is a single static binary that stores buckets as directories and
// objects as files, needs no configuration and starts in well under a second,
// which makes it a good fit for tests; see FindBinary for how it is located
// or installed. Each Server is one versitygw process with its own directory,
// so tests in parallel packages never share state.
package s3server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Fixed credentials and region used when Options leave them empty. They are
// constants because the server only listens on loopback and is thrown away
// after the test; fixed values make a failing test easy to reproduce by hand.
const (
	DefaultAccessKey = "silt-test-access"
	DefaultSecretKey = "silt-test-secret-key-0123456789"
	DefaultRegion    = "us-east-1"
)

// Options configure Start. The zero value starts a server in a fresh
// temporary directory with the default credentials.
type Options struct {
	// Dir is the posix root of the server: every subdirectory is a bucket.
	// Empty means a fresh temporary directory that Close removes. A
	// directory given here is kept, so a test can inspect it or restart a
	// server on the same data.
	Dir string
	// Binary is the versitygw executable. Empty means FindBinary, which may
	// install it.
	Binary string
	// AccessKey and SecretKey are the root credentials; empty means
	// DefaultAccessKey and DefaultSecretKey.
	AccessKey, SecretKey string
	// Region is the region the server signs for; empty means DefaultRegion.
	Region string
	// StartTimeout bounds how long Start waits for the server to answer;
	// 0 means 30s. The context passed to Start bounds it too.
	StartTimeout time.Duration
	// Log receives the server's stdout and stderr. Nil means a file,
	// versitygw.log, in the server's temporary work directory (see LogPath).
	Log io.Writer
}

// Server is one running versitygw process. Its methods are safe for
// concurrent use; Close is idempotent.
type Server struct {
	endpoint  string
	accessKey string
	secretKey string
	region    string
	dataDir   string
	workDir   string // temporary directory owned by the Server, removed by Close
	logPath   string // "" when Options.Log was given

	transport *http.Transport // used by Client; idle connections closed by Close
	client    *s3.Client

	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait has returned
	// waitErr is cmd.Wait's result, readable once exited is closed.
	waitErr error

	closeOnce sync.Once
	closeErr  error
}

// Start launches versitygw on a free loopback port and returns once it
// answers HTTP requests. The caller must Close the server.
//
// The port is chosen by binding port 0 and releasing it, so another process
// may take it before versitygw does. Start therefore polls a health path
// containing a random token that only its own process answers, and retries
// with a new port if the process exits early.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.AccessKey == "" {
		opts.AccessKey = DefaultAccessKey
	}
	if opts.SecretKey == "" {
		opts.SecretKey = DefaultSecretKey
	}
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 30 * time.Second
	}
	bin := opts.Binary
	if bin == "" {
		var err error
		if bin, err = FindBinary(ctx); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	const attempts = 3
	var lastErr error
	for range attempts {
		s, err := start(ctx, bin, opts)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errExitedEarly) || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// errExitedEarly marks a server process that died before answering, most
// often because another process took the port first; Start then retries.
var errExitedEarly = errors.New("versitygw exited before it was ready")

func start(ctx context.Context, bin string, opts Options) (_ *Server, err error) {
	workDir, err := os.MkdirTemp("", "silt-s3server-")
	if err != nil {
		return nil, fmt.Errorf("s3server: work directory: %w", err)
	}
	s := &Server{
		accessKey: opts.AccessKey,
		secretKey: opts.SecretKey,
		region:    opts.Region,
		dataDir:   opts.Dir,
		workDir:   workDir,
		exited:    make(chan struct{}),
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.dataDir == "" {
		s.dataDir = filepath.Join(workDir, "data")
	}
	if err := os.MkdirAll(s.dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("s3server: data directory: %w", err)
	}

	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.endpoint = "http://" + addr
	token := make([]byte, 8)
	if _, err := rand.Read(token); err != nil {
		return nil, fmt.Errorf("s3server: health token: %w", err)
	}
	health := "/silt-health-" + hex.EncodeToString(token)

	out := opts.Log
	if out == nil {
		s.logPath = filepath.Join(workDir, "versitygw.log")
		f, err := os.Create(s.logPath)
		if err != nil {
			return nil, fmt.Errorf("s3server: log file: %w", err)
		}
		// The child holds its own copy of the descriptor; ours is not needed.
		defer f.Close()
		out = f
	}

	// --quiet drops the per-request log lines; --keep-alive lets clients
	// reuse connections as they would against a real store (versitygw closes
	// every connection after one response otherwise). The global flags must
	// come before the backend subcommand.
	s.cmd = exec.Command(bin,
		"--access", opts.AccessKey,
		"--secret", opts.SecretKey,
		"--region", opts.Region,
		"--port", addr,
		"--health", health,
		"--quiet",
		"--keep-alive",
		"posix", s.dataDir)
	s.cmd.Stdout = out
	s.cmd.Stderr = out
	s.cmd.Env = childEnv()
	s.cmd.SysProcAttr = sysProcAttr()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("s3server: start %s: %w", bin, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()

	if err := s.waitReady(ctx, health); err != nil {
		return nil, err
	}
	s.newClient()
	return s, nil
}

// waitReady polls the health path until the server answers 200, the process
// exits, or ctx ends.
func (s *Server) waitReady(ctx context.Context, health string) error {
	client := &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true},
		Timeout:   time.Second,
	}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.endpoint+health, nil)
		if err != nil {
			return fmt.Errorf("s3server: health request: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("s3server: %w (%v)%s", errExitedEarly, s.waitErr, s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("s3server: versitygw at %s not ready: %w%s", s.endpoint, ctx.Err(), s.logTail())
		case <-tick.C:
		}
	}
}

// logTail returns the end of the server's log for error messages, or "".
func (s *Server) logTail() string {
	if s.logPath == "" {
		return ""
	}
	b, err := os.ReadFile(s.logPath)
	if err != nil || len(b) == 0 {
		return ""
	}
	const max = 2048
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return "\nversitygw log:\n" + string(b)
}

// childEnv is this process's environment without versitygw's own settings
// (VGW_*, ROOT_*), so a developer's shell cannot change the server the
// tests get; everything the server needs is on its command line.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VGW_") || strings.HasPrefix(kv, "ROOT_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// freePort asks the kernel for an unused loopback TCP port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("s3server: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Endpoint is the server's base URL, "http://127.0.0.1:PORT", as
// objstore.Config.Endpoint expects it.
func (s *Server) Endpoint() string { return s.endpoint }

// AccessKey is the root access key the server accepts.
func (s *Server) AccessKey() string { return s.accessKey }

// SecretKey is the root secret key the server accepts.
func (s *Server) SecretKey() string { return s.secretKey }

// Region is the region requests must be signed for.
func (s *Server) Region() string { return s.region }

// Dir is the posix root: bucket b lives in Dir()/b.
func (s *Server) Dir() string { return s.dataDir }

// LogPath is the file holding the server's output, or "" if Options.Log
// was given. It is removed by Close.
func (s *Server) LogPath() string { return s.logPath }

// Env returns the environment a subprocess (a silt agent, a client tool)
// needs to reach this server with silt's defaults: credentials, region and
// SILT_S3_ENDPOINT. Append it to os.Environ().
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.accessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.secretKey,
		"AWS_REGION=" + s.region,
		"SILT_S3_ENDPOINT=" + s.endpoint,
	}
}

// Client returns an aws-sdk-go-v2 S3 client signed for this server, for
// tests that need to talk to it directly (set up buckets, inspect objects,
// check the server's own behaviour). It does not retry, so tests see the
// server's first answer. The client is shared and needs no closing.
func (s *Server) Client() *s3.Client { return s.client }

func (s *Server) newClient() {
	s.transport = http.DefaultTransport.(*http.Transport).Clone()
	s.client = s3.New(s3.Options{
		Region:       s.region,
		BaseEndpoint: aws.String(s.endpoint),
		UsePathStyle: true,
		HTTPClient:   &http.Client{Transport: s.transport},
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: s.accessKey, SecretAccessKey: s.secretKey}, nil
		}),
		Retryer:                    aws.NopRetryer{},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// CreateBucket creates a bucket through the S3 API (versitygw keeps the
// bucket's owner and ACL in extended attributes, so a plain mkdir is not
// enough). A bucket that already exists and is ours is not an error.
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	_, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "BucketAlreadyOwnedByYou" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("s3server: create bucket %q: %w", name, err)
	}
	return nil
}

// Close stops the server (SIGTERM, then SIGKILL after 5s), waits for it to
// exit and removes the temporary directory it created. A directory passed
// in Options.Dir is kept. Close is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			select {
			case <-s.exited:
			default:
				s.cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-s.exited:
				case <-time.After(5 * time.Second):
					s.cmd.Process.Kill()
					<-s.exited
				}
			}
		}
		if s.transport != nil {
			s.transport.CloseIdleConnections()
		}
		if s.workDir != "" {
			if err := os.RemoveAll(s.workDir); err != nil {
				s.closeErr = fmt.Errorf("s3server: remove %s: %w", s.workDir, err)
			}
		}
	})
	return s.closeErr
}
