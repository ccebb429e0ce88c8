package objstorefault_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/objstore/mem"
	"github.com/silt-io/silt/objstore/objstorefault"
	"github.com/silt-io/silt/objstore/objstoretest"
)

// With no faults set, the wrapper keeps the whole contract.
func TestConformance(t *testing.T) {
	objstoretest.RunWithOptions(t, func(t *testing.T) objstore.Bucket {
		return objstorefault.Wrap(mem.New())
	}, objstoretest.Options{LargeObjectSize: 4 << 20})
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	inner := mem.New()
	f := objstorefault.Wrap(inner)

	f.SetDown(true)
	if _, err := f.Put(ctx, "a", []byte("x")); !errors.Is(err, objstorefault.ErrInjected) {
		t.Errorf("Put while down: err = %v", err)
	}
	if _, err := f.Get(ctx, "a"); !errors.Is(err, objstorefault.ErrInjected) {
		t.Errorf("Get while down: err = %v", err)
	}
	f.SetDown(false)

	f.FailPuts("j/", 1, objstorefault.FailBefore)
	if _, err := f.PutIfAbsent(ctx, "j/1", []byte("x")); !errors.Is(err, objstorefault.ErrInjected) {
		t.Errorf("failed put: err = %v", err)
	}
	if _, err := inner.Head(ctx, "j/1"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("a put failed before the request was written anyway: %v", err)
	}

	f.FailPuts("j/", 1, objstorefault.LoseResponse)
	if _, err := f.PutIfAbsent(ctx, "j/1", []byte("x")); !errors.Is(err, objstorefault.ErrInjected) {
		t.Errorf("lost response: err = %v", err)
	}
	if _, err := inner.Head(ctx, "j/1"); err != nil {
		t.Errorf("a put whose response was lost was not written: %v", err)
	}
	if _, err := f.PutIfAbsent(ctx, "j/2", []byte("x")); err != nil {
		t.Errorf("put after the faults were used up: %v", err)
	}
}

// A latency function is drawn once per request, and each request waits
// what it drew.
func TestLatencyFunc(t *testing.T) {
	ctx := context.Background()
	f := objstorefault.Wrap(mem.New())
	draws := 0
	f.SetLatencyFunc(func() time.Duration {
		draws++
		return time.Duration(draws) * 5 * time.Millisecond
	})
	for i, op := range []func() error{
		func() error { _, err := f.Put(ctx, "a", []byte("x")); return err },
		func() error { _, err := f.Head(ctx, "a"); return err },
	} {
		start := time.Now()
		if err := op(); err != nil {
			t.Fatal(err)
		}
		if want := time.Duration(i+1) * 5 * time.Millisecond; time.Since(start) < want {
			t.Errorf("request %d took %v, want at least the %v drawn", i, time.Since(start), want)
		}
	}
	if draws != 2 {
		t.Errorf("%d draws for 2 requests", draws)
	}
	f.SetLatency(0)
	if _, err := f.Head(ctx, "a"); err != nil || draws != 2 {
		t.Errorf("SetLatency did not replace the function: %d draws, %v", draws, err)
	}
}
