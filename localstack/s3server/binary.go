package s3server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// VersityModule is the versitygw version silt is tested against; FindBinary
// installs exactly this one when none is found, so behaviour the drivers
// rely on (see the tests in this package) does not drift under them.
const VersityModule = "github.com/versity/versitygw/cmd/versitygw@v1.8.0"

// EnvBinary names the environment variable that points at a versitygw
// binary, overriding every other place FindBinary looks.
const EnvBinary = "SILT_VERSITYGW"

// found caches FindBinary's search for the life of the process, so that the
// tests of one package look it up (and run `go env`) once. $SILT_VERSITYGW
// is read every time.
var found struct {
	sync.Mutex
	path string
}

// FindBinary returns the path of a versitygw executable, looking in order at
//
//  1. $SILT_VERSITYGW (an error if set but not executable: the caller asked
//     for that binary and should not silently get another),
//  2. <module root>/.bin/versitygw,
//  3. versitygw on $PATH,
//  4. $(go env GOPATH)/bin/versitygw,
//
// and if none exists it installs VersityModule into <module root>/.bin with
// `go install`. The install holds an exclusive lock on .bin/.install.lock,
// so the test binaries of several packages, run in parallel by `go test
// ./...`, build it once between them.
func FindBinary(ctx context.Context) (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("s3server: $%s=%s is not an executable file", EnvBinary, p)
		}
		return p, nil
	}
	found.Lock()
	defer found.Unlock()
	if found.path != "" {
		return found.path, nil
	}
	path, err := findBinary(ctx)
	if err != nil {
		return "", err
	}
	found.path = path
	return path, nil
}

func findBinary(ctx context.Context) (string, error) {
	binDir, binErr := localBinDir()
	if binErr == nil {
		if p := filepath.Join(binDir, "versitygw"); isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	if gopath, err := goEnv(ctx, "GOPATH"); err == nil {
		for _, dir := range filepath.SplitList(gopath) {
			if p := filepath.Join(dir, "bin", "versitygw"); isExecutable(p) {
				return p, nil
			}
		}
	}
	if binErr != nil {
		return "", fmt.Errorf("s3server: versitygw not found and nowhere to install it: %w", binErr)
	}
	return install(ctx, binDir)
}

// install builds VersityModule into binDir under an exclusive file lock.
// It builds into a temporary GOBIN inside binDir and renames the result into
// place, so a process that finds binDir/versitygw without taking the lock
// never sees a half-written file.
func install(ctx context.Context, binDir string) (string, error) {
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", fmt.Errorf("s3server: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(binDir, ".install.lock"))
	if err != nil {
		return "", fmt.Errorf("s3server: lock %s: %w", binDir, err)
	}
	defer unlock()

	target := filepath.Join(binDir, "versitygw")
	if isExecutable(target) { // another process installed it while we waited
		return target, nil
	}
	tmp, err := os.MkdirTemp(binDir, ".install-")
	if err != nil {
		return "", fmt.Errorf("s3server: %w", err)
	}
	defer os.RemoveAll(tmp)

	goBin, err := goTool()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "install", VersityModule)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("s3server: GOBIN=%s go install %s: %w\n%s", tmp, VersityModule, err, out.Bytes())
	}
	if err := os.Rename(filepath.Join(tmp, "versitygw"), target); err != nil {
		return "", fmt.Errorf("s3server: install versitygw: %w", err)
	}
	return target, nil
}

// localBinDir is <module root>/.bin, the project's git-ignored directory
// for tools the tests need.
func localBinDir() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".bin"), nil
}

// ModuleRoot walks up from the working directory (a test runs in its
// package's directory) to the directory holding go.mod: the checkout whose
// .bin holds test tools and whose ./cmd/silt tests build.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// goTool finds the go command: on $PATH, else in the GOROOT this binary
// was built with (a test binary run by `go test` always has one).
func goTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); isExecutable(p) {
			return p, nil
		}
	}
	return "", errors.New("s3server: the go command is not on $PATH; set $" + EnvBinary + " to a versitygw binary")
}

// goEnv returns `go env NAME`.
func goEnv(ctx context.Context, name string) (string, error) {
	goBin, err := goTool()
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, goBin, "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// isExecutable reports whether p is a regular file with an execute bit.
func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
