package cache_test

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/silt-io/silt/cache"
)

// newCache opens a cache closed at the end of the test, and fails the test
// if any goroutine started during it outlives it.
func newCache(t testing.TB, opts cache.Options) *cache.Cache {
	t.Helper()
	checkLeaks(t)
	c, err := cache.New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// checkLeaks compares runtime.NumGoroutine at the end of the test, after
// later cleanups have run, with its value now, allowing goroutines a moment
// to exit.
func checkLeaks(t testing.TB) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before the test, %d after\n%s", before, runtime.NumGoroutine(), buf)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// val returns a value of n bytes derived from s, so values of different
// keys differ.
func val(s string, n int) []byte {
	return bytes.Repeat([]byte(s), n/len(s)+1)[:n]
}

// constFill returns a fill that yields v.
func constFill(v []byte) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) { return v, nil }
}

func waitIdle(t testing.TB, c *cache.Cache) {
	t.Helper()
	if err := cache.WaitIdle(c); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond for up to 5s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}
