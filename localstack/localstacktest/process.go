package localstacktest

import (
	"bytes"
	"context"
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
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/silt-io/silt/localstack/s3server"
)

// built is the silt binary of this test process, built once by BuildBinary.
var built struct {
	once sync.Once
	path string
	err  error
}

// BuildBinary builds ./cmd/silt once per test binary and returns the path of
// the executable. It is built with -race when the test binary is, so the
// race detector watches the agent processes too. The binary goes in a
// temporary directory named after this process; such directories left by
// earlier test processes that have exited are removed on the way. It fails
// the test if the build fails.
func BuildBinary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() { built.path, built.err = buildBinary() })
	if built.err != nil {
		t.Fatalf("localstack: build silt: %v", built.err)
	}
	return built.path
}

// binDirPrefix names the temporary directories BuildBinary builds into:
// silt-bin-<pid>-<random>.
const binDirPrefix = "silt-bin-"

func buildBinary() (string, error) {
	root, err := s3server.ModuleRoot()
	if err != nil {
		return "", err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go command is not on $PATH: %w", err)
	}
	removeStaleBinDirs()
	dir, err := os.MkdirTemp("", binDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "silt")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/silt")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go %s (in %s): %w\n%s", strings.Join(args, " "), root, err, out)
	}
	return bin, nil
}

// removeStaleBinDirs removes the build directories of test processes that
// no longer exist. A process cannot remove its own at exit (Go has no exit
// hook, and a killed test runs nothing), so each build cleans up after the
// ones before it.
func removeStaleBinDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), binDirPrefix+"*"))
	for _, d := range dirs {
		pidStr, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(d), binDirPrefix), "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid == os.Getpid() {
			continue
		}
		if !processAlive(pid) {
			os.RemoveAll(d)
		}
	}
}

// ProcessOptions describes one `silt agent` process.
type ProcessOptions struct {
	// Bucket is the --bucket URL: Cluster.BucketURL, a directory, or an
	// s3:// URL (then Env must say how to reach the server).
	Bucket string
	// Env is added to the test process's environment, e.g. Cluster.S3Env.
	Env []string
	// Args are further `silt agent` flags (--put-budget,
	// --auto-create-topics…). Give the listen address and node name in
	// their fields, not here, so that Addr and NodeName report them.
	Args []string
	// NodeName is --node-name; default proc-<n>, unique in the test binary.
	NodeName string
	// Listen is the Kafka listener address; default a free loopback port.
	// Passing the address of an agent that was stopped restarts the agent
	// where its clients already look.
	Listen string
	// Join lists the gossip addresses of running agents (their
	// Process.GossipAddr or Agent.GossipAddr) for a cluster of processes.
	Join []string
}

// processCount numbers default node names.
var processCount atomic.Int32

// Process is a running `silt agent` process started by StartProcess. Its
// methods may be called from any goroutine.
type Process struct {
	t        testing.TB
	cmd      *exec.Cmd
	nodeName string
	addr     string
	httpAddr string
	gossip   string
	logPath  string

	exited  chan struct{} // closed once cmd.Wait returned; then waitErr is set
	waitErr error
	// ending is set by Kill and Stop: an exit after it is expected.
	ending atomic.Bool
}

// StartProcess starts `silt agent` from BuildBinary with --listen and --http
// on loopback, --bucket, --node-name and a short --flush-interval (20ms, as
// AgentConfig), and returns once it answers ready on /readyz. The agent's
// output goes to a log file, printed if the test fails. When the test ends
// the process is killed if still running, and the test fails if the agent
// exited on its own (a crash) or the race detector reported anything. It
// fails the test if the agent does not become ready within a minute.
func StartProcess(t testing.TB, opts ProcessOptions) *Process {
	t.Helper()
	bin := BuildBinary(t)
	if opts.NodeName == "" {
		opts.NodeName = fmt.Sprintf("proc-%d", processCount.Add(1))
	}
	logDir := t.TempDir() // created before the cleanup below, so removed after it
	logPath := filepath.Join(logDir, opts.NodeName+".log")

	// A free port found by binding port 0 may be taken by someone else
	// before the agent binds it; then the agent exits and we try again
	// with new ports.
	const attempts = 3
	var err error
	for range attempts {
		var p *Process
		p, err = startProcess(t, bin, opts, logPath)
		if err == nil {
			return p
		}
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	t.Fatalf("localstack: %v", err)
	return nil
}

// errAddrInUse marks an agent that exited because a port it was given
// was taken.
var errAddrInUse = errors.New("address already in use")

func startProcess(t testing.TB, bin string, opts ProcessOptions, logPath string) (*Process, error) {
	listen := opts.Listen
	if listen == "" {
		listen = freeAddr(t)
	}
	httpAddr := freeAddr(t)
	gossipAddr := freeAddr(t)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	args := append([]string{"agent",
		"--listen", listen,
		"--http", httpAddr,
		"--bucket", opts.Bucket,
		"--node-name", opts.NodeName,
		"--gossip", gossipAddr,
		// As AgentConfig does for agents in process: no compactor (it
		// would apply retention to test records' old timestamps) unless
		// the test's Args turn it on.
		"--compaction=false",
	}, opts.Args...)
	if len(opts.Join) > 0 {
		args = append(args, "--join", strings.Join(opts.Join, ","))
	}
	fmt.Fprintf(logFile, "=== %s %s\n", bin, strings.Join(args, " "))
	p := &Process{
		t:        t,
		cmd:      exec.Command(bin, args...),
		nodeName: opts.NodeName,
		addr:     listen,
		httpAddr: httpAddr,
		gossip:   gossipAddr,
		logPath:  logPath,
		exited:   make(chan struct{}),
	}
	p.cmd.Env = append(os.Environ(), opts.Env...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.SysProcAttr = processSysProcAttr()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(time.Minute); err != nil {
		p.ending.Store(true)
		p.cmd.Process.Kill()
		<-p.exited
		return nil, err
	}
	t.Cleanup(p.cleanup)
	return p, nil
}

// freeAddr asks the kernel for an unused loopback address.
func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("localstack: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitReady polls /readyz until it answers 200, the process exits, or the
// timeout passes.
func (p *Process) waitReady(timeout time.Duration) error {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	deadline := time.After(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := client.Get("http://" + p.httpAddr + "/readyz"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			log := p.logTail(4 << 10)
			if strings.Contains(log, "address already in use") {
				return fmt.Errorf("agent %s: %w", p.nodeName, errAddrInUse)
			}
			return fmt.Errorf("agent %s exited before it was ready (%v); log:\n%s", p.nodeName, p.waitErr, log)
		case <-deadline:
			return fmt.Errorf("agent %s not ready on http://%s/readyz after %v; log:\n%s", p.nodeName, p.httpAddr, timeout, p.logTail(4<<10))
		case <-tick.C:
		}
	}
}

// Addr is the agent's Kafka address, host:port.
func (p *Process) Addr() string { return p.addr }

// HTTPAddr is the address of the agent's /metrics, /healthz and /readyz.
func (p *Process) HTTPAddr() string { return p.httpAddr }

// GossipAddr is the agent's gossip address, for other agents to join.
func (p *Process) GossipAddr() string { return p.gossip }

// NodeName is the agent's --node-name.
func (p *Process) NodeName() string { return p.nodeName }

// LogPath is the file holding the agent's output.
func (p *Process) LogPath() string { return p.logPath }

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Kill kills the agent with SIGKILL, as a crash or an OOM kill would, and
// waits for it to exit. It does nothing if the agent has exited.
func (p *Process) Kill() {
	p.ending.Store(true)
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Stop asks the agent to shut down gracefully with SIGTERM and waits for
// it. It fails the test unless the agent exits with code 0 within 30s (it
// is then killed).
func (p *Process) Stop() {
	p.t.Helper()
	p.ending.Store(true)
	select {
	case <-p.exited:
		p.t.Errorf("localstack: agent %s had already exited (%v) when asked to stop", p.nodeName, p.waitErr)
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.waitErr != nil {
			p.t.Errorf("localstack: agent %s stopped with %v, want exit code 0", p.nodeName, p.waitErr)
		}
	case <-time.After(30 * time.Second):
		p.t.Errorf("localstack: agent %s did not exit within 30s of SIGTERM; killing it", p.nodeName)
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
}

// cleanup kills the agent if it is still running and reports what the test
// should know: an agent that died by itself, a data race, and on failure
// the agent's log.
func (p *Process) cleanup() {
	select {
	case <-p.exited:
		if !p.ending.Load() {
			p.t.Errorf("localstack: agent %s exited unexpectedly: %v", p.nodeName, p.waitErr)
		}
	default:
		p.Kill()
	}
	log, _ := os.ReadFile(p.logPath)
	if bytes.Contains(log, []byte("WARNING: DATA RACE")) {
		p.t.Errorf("localstack: the race detector reported a data race in agent %s", p.nodeName)
	}
	if p.t.Failed() {
		p.t.Logf("agent %s log (%s):\n%s", p.nodeName, p.logPath, p.logTail(256<<10))
	}
}

// logTail returns the last max bytes of the agent's log.
func (p *Process) logTail(max int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.logPath, err)
	}
	if len(b) > max {
		b = append([]byte("…\n"), b[len(b)-max:]...)
	}
	return string(b)
}
