package cache_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/silt-io/silt/cache"
)

// blockingFill is a fill that counts its calls, records its context and
// returns value (or err) once released.
type blockingFill struct {
	calls   atomic.Int32
	release chan struct{}
	ctxs    chan context.Context
	value   []byte
	err     error
	honour  bool // return ctx.Err() if the context ends first
}

func newBlockingFill(value []byte) *blockingFill {
	return &blockingFill{release: make(chan struct{}), ctxs: make(chan context.Context, 16), value: value, honour: true}
}

func (b *blockingFill) fill(ctx context.Context) ([]byte, error) {
	b.calls.Add(1)
	b.ctxs <- ctx
	if b.honour {
		select {
		case <-b.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	} else {
		<-b.release
	}
	return b.value, b.err
}

func TestGetOrFillIsSingleFlight(t *testing.T) {
	const callers = 100
	c := newCache(t, cache.Options{})
	f := newBlockingFill([]byte("chunk"))
	var wg sync.WaitGroup
	results := make(chan string, callers)
	for range callers {
		wg.Go(func() {
			v, err := c.GetOrFill(context.Background(), "seg/0", f.fill)
			if err != nil {
				t.Errorf("GetOrFill: %v", err)
			}
			results <- string(v)
		})
	}
	eventually(t, "every caller waits on the fill", func() bool { return cache.Waiters(c, "seg/0") == callers })
	close(f.release)
	wg.Wait()
	close(results)
	for r := range results {
		if r != "chunk" {
			t.Fatalf("a caller got %q; want %q", r, "chunk")
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("fill called %d times; want 1", n)
	}
	if v, ok := c.Get("seg/0"); !ok || string(v) != "chunk" {
		t.Errorf("Get after the fill = %q, %v; want the filled value", v, ok)
	}
	if s := c.Stats(); s.Fills != 1 {
		t.Errorf("Stats.Fills = %d; want 1", s.Fills)
	}
}

func TestFailedFillIsNotCached(t *testing.T) {
	c := newCache(t, cache.Options{})
	boom := errors.New("GET failed")
	f := newBlockingFill(nil)
	f.err = boom
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if _, err := c.GetOrFill(context.Background(), "k", f.fill); !errors.Is(err, boom) {
				t.Errorf("waiter got %v; want %v", err, boom)
			}
		})
	}
	eventually(t, "three waiters", func() bool { return cache.Waiters(c, "k") == 3 })
	close(f.release)
	wg.Wait()
	if _, ok := c.Get("k"); ok {
		t.Error("a failed fill was cached")
	}
	v, err := c.GetOrFill(context.Background(), "k", constFill([]byte("v")))
	if err != nil || string(v) != "v" {
		t.Errorf("GetOrFill after a failure = %q, %v; want a fresh fill", v, err)
	}
	if s := c.Stats(); s.Fills != 2 || s.FillErrors != 1 {
		t.Errorf("Stats = %+v; want 2 fills, 1 error", s)
	}
}

// TestWaiterCancellation specifies what happens when callers give up: the
// fill goes on while anyone waits, stops when nobody does, and a value that
// arrives anyway is cached.
func TestWaiterCancellation(t *testing.T) {
	for _, tc := range []struct {
		name         string
		patient      bool // a second caller waits with a context that never ends
		honour       bool // the fill returns when its context ends
		wantFillCtx  error
		wantCached   bool
		wantPatients string
	}{
		{name: "one of two gives up: the fill goes on for the other",
			patient: true, honour: true, wantFillCtx: nil, wantCached: true, wantPatients: "chunk"},
		{name: "the only caller gives up: the fill is cancelled and nothing cached",
			honour: true, wantFillCtx: context.Canceled, wantCached: false},
		{name: "a value arriving after everyone left is still cached",
			honour: false, wantFillCtx: context.Canceled, wantCached: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCache(t, cache.Options{})
			f := newBlockingFill([]byte("chunk"))
			f.honour = tc.honour

			ctx, cancel := context.WithCancel(context.Background())
			impatient := make(chan error, 1)
			go func() {
				_, err := c.GetOrFill(ctx, "k", f.fill)
				impatient <- err
			}()
			fillCtx := <-f.ctxs
			patient := make(chan string, 1)
			if tc.patient {
				go func() {
					v, err := c.GetOrFill(context.Background(), "k", f.fill)
					if err != nil {
						t.Errorf("patient caller: %v", err)
					}
					patient <- string(v)
				}()
				eventually(t, "two waiters", func() bool { return cache.Waiters(c, "k") == 2 })
			}

			cancel()
			select {
			case err := <-impatient:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("impatient caller got %v; want context.Canceled", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a caller whose context ended did not return")
			}
			if tc.wantFillCtx != nil {
				select {
				case <-fillCtx.Done():
				case <-time.After(5 * time.Second):
					t.Fatal("the fill's context was not cancelled when every caller left")
				}
			}
			if err := fillCtx.Err(); !errors.Is(err, tc.wantFillCtx) {
				t.Errorf("fill context error = %v; want %v", err, tc.wantFillCtx)
			}

			close(f.release)
			if tc.patient {
				if got := <-patient; got != tc.wantPatients {
					t.Errorf("patient caller got %q; want %q", got, tc.wantPatients)
				}
			}
			waitIdle(t, c)
			if _, ok := c.Get("k"); ok != tc.wantCached {
				t.Errorf("cached = %v; want %v", ok, tc.wantCached)
			}
		})
	}
}

func TestCallerAfterEveryoneLeftStartsAFreshFill(t *testing.T) {
	c := newCache(t, cache.Options{})
	stuck := newBlockingFill(nil)
	stuck.honour = false // ignores cancellation, so the old flight lingers
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		c.GetOrFill(ctx, "k", stuck.fill)
		close(done)
	}()
	<-stuck.ctxs
	cancel()
	<-done
	v, err := c.GetOrFill(context.Background(), "k", constFill([]byte("fresh")))
	if err != nil || string(v) != "fresh" {
		t.Errorf("GetOrFill = %q, %v; want a fresh fill, not the cancelled one's result", v, err)
	}
	close(stuck.release)
}

func TestGetOrFillWithEndedContext(t *testing.T) {
	c := newCache(t, cache.Options{})
	c.Put("cached", []byte("v"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if v, err := c.GetOrFill(ctx, "cached", constFill(nil)); err != nil || string(v) != "v" {
		t.Errorf("GetOrFill of a cached key = %q, %v; want the value: a hit needs no context", v, err)
	}
	if _, err := c.GetOrFill(ctx, "missing", constFill(nil)); !errors.Is(err, context.Canceled) {
		t.Errorf("GetOrFill of a missing key = %v; want context.Canceled", err)
	}
	if s := c.Stats(); s.Fills != 0 {
		t.Errorf("Stats.Fills = %d; want no fill for a caller already gone", s.Fills)
	}
}

func TestDeleteDuringFillAnswersWaitersButCachesNothing(t *testing.T) {
	c := newCache(t, cache.Options{})
	f := newBlockingFill([]byte("old"))
	got := make(chan string, 1)
	go func() {
		v, _ := c.GetOrFill(context.Background(), "k", f.fill)
		got <- string(v)
	}()
	<-f.ctxs
	c.Delete("k")
	close(f.release)
	if v := <-got; v != "old" {
		t.Errorf("waiter got %q; want %q", v, "old")
	}
	waitIdle(t, c)
	if _, ok := c.Get("k"); ok {
		t.Error("a fill finished after Delete cached its value")
	}
}

func TestPrefetch(t *testing.T) {
	t.Run("then Get hits", func(t *testing.T) {
		c := newCache(t, cache.Options{})
		c.Prefetch("next", constFill([]byte("ahead")))
		waitIdle(t, c)
		if v, ok := c.Get("next"); !ok || string(v) != "ahead" {
			t.Errorf("Get after Prefetch = %q, %v; want a hit", v, ok)
		}
	})
	t.Run("then GetOrFill joins the running fill", func(t *testing.T) {
		c := newCache(t, cache.Options{})
		f := newBlockingFill([]byte("ahead"))
		c.Prefetch("next", f.fill)
		<-f.ctxs
		got := make(chan string, 1)
		go func() {
			v, _ := c.GetOrFill(context.Background(), "next", f.fill)
			got <- string(v)
		}()
		eventually(t, "the caller joins", func() bool { return cache.Waiters(c, "next") == 2 })
		close(f.release)
		if v := <-got; v != "ahead" || f.calls.Load() != 1 {
			t.Errorf("GetOrFill = %q with %d fills; want %q with 1", v, f.calls.Load(), "ahead")
		}
	})
	t.Run("a caller giving up does not cancel it", func(t *testing.T) {
		c := newCache(t, cache.Options{})
		f := newBlockingFill([]byte("ahead"))
		c.Prefetch("next", f.fill)
		fillCtx := <-f.ctxs
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		if _, err := c.GetOrFill(ctx, "next", f.fill); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("GetOrFill = %v; want context.DeadlineExceeded", err)
		}
		if fillCtx.Err() != nil {
			t.Error("the prefetch was cancelled by a caller who gave up")
		}
		close(f.release)
		waitIdle(t, c)
		if _, ok := c.Get("next"); !ok {
			t.Error("the prefetched value was not cached")
		}
	})
	t.Run("is bounded, dropping the excess", func(t *testing.T) {
		c := newCache(t, cache.Options{MaxPrefetches: 2})
		f := newBlockingFill([]byte("v"))
		for _, k := range []string{"a", "b", "c"} {
			c.Prefetch(k, f.fill)
		}
		<-f.ctxs
		<-f.ctxs
		if s := c.Stats(); s.Fills != 2 || s.PrefetchesDropped != 1 {
			t.Errorf("Stats = %+v; want 2 fills and 1 dropped", s)
		}
		close(f.release)
		waitIdle(t, c)
		c.Prefetch("c", f.fill) // room again
		waitIdle(t, c)
		if _, ok := c.Get("c"); !ok {
			t.Error("a prefetch after the others finished did not run")
		}
	})
	t.Run("skips cached keys", func(t *testing.T) {
		c := newCache(t, cache.Options{})
		c.Put("k", []byte("v"))
		c.Prefetch("k", constFill([]byte("other")))
		if s := c.Stats(); s.Fills != 0 {
			t.Errorf("Stats.Fills = %d; want 0", s.Fills)
		}
	})
}

func TestCloseCancelsFillsAndWaits(t *testing.T) {
	c := newCache(t, cache.Options{})
	prefetch := newBlockingFill(nil)
	c.Prefetch("p", prefetch.fill)
	fill := newBlockingFill(nil)
	errc := make(chan error, 1)
	go func() {
		_, err := c.GetOrFill(context.Background(), "k", fill.fill)
		errc <- err
	}()
	ctxs := []context.Context{<-prefetch.ctxs, <-fill.ctxs}
	c.Close()
	for _, ctx := range ctxs {
		if ctx.Err() == nil {
			t.Error("a fill's context is still live after Close")
		}
	}
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("waiter got %v; want context.Canceled", err)
	}
	if _, err := c.GetOrFill(context.Background(), "new", constFill(nil)); !errors.Is(err, cache.ErrClosed) {
		t.Errorf("GetOrFill after Close = %v; want ErrClosed", err)
	}
	c.Prefetch("new", constFill(nil)) // no-op, no goroutine
}

func TestFillTimeoutBoundsPrefetch(t *testing.T) {
	c := newCache(t, cache.Options{FillTimeout: 20 * time.Millisecond})
	f := newBlockingFill(nil)
	c.Prefetch("k", f.fill)
	ctx := <-f.ctxs
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("FillTimeout did not cancel the prefetch")
	}
	waitIdle(t, c)
	if s := c.Stats(); s.FillErrors != 1 {
		t.Errorf("Stats.FillErrors = %d; want 1", s.FillErrors)
	}
}
