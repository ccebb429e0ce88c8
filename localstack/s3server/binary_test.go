package s3server

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestModuleRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(deep)
	got, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	// t.TempDir may sit behind a symlink; compare resolved paths.
	want, _ := filepath.EvalSymlinks(root)
	if got, _ = filepath.EvalSymlinks(got); got != want {
		t.Errorf("ModuleRoot() = %q, want %q", got, want)
	}
}

func TestLockFileExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".install.lock")
	ctx := context.Background()
	unlock, err := lockFile(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to open file descriptions, so a second open in
	// this process contends just as another process would.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := lockFile(short, path); err == nil {
		t.Fatal("a second lockFile succeeded while the first was held")
	}
	var wg sync.WaitGroup
	got := make(chan struct{})
	wg.Go(func() {
		unlock2, err := lockFile(ctx, path)
		if err != nil {
			t.Error(err)
			return
		}
		close(got)
		unlock2()
	})
	time.Sleep(150 * time.Millisecond)
	select {
	case <-got:
		t.Fatal("lock taken while held")
	default:
	}
	unlock()
	wg.Wait()
}

// TestInstall builds versitygw into a fresh module's .bin, as a test run on
// a machine without it does. It needs the Go module proxy, or a module
// cache that already holds versitygw (after `make tools`, it does).
func TestInstall(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	paths := make([]string, 3)
	for i := range paths { // concurrent installers serialise on the lock
		wg.Go(func() {
			p, err := install(ctx, filepath.Join(root, ".bin"))
			if err != nil {
				t.Error(err)
			}
			paths[i] = p
		})
	}
	wg.Wait()
	want := filepath.Join(root, ".bin", "versitygw")
	for _, p := range paths {
		if p != want {
			t.Errorf("install returned %q, want %q", p, want)
		}
	}
	if out, err := exec.Command(want, "--version").CombinedOutput(); err != nil {
		t.Errorf("%s --version: %v\n%s", want, err, out)
	}
}
