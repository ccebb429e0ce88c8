// Package objstorefault wraps a Bucket to inject the failures real object
// stores have — an outage, a request that fails, a response lost after the
// write happened, latency — so tests can show that silt loses nothing
// acknowledged through them. It is a decorator like objstore.WithMetrics,
// so any driver can be made faulty.
package objstorefault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"sync"
	"time"

	"github.com/silt-io/silt/objstore"
)

// ErrInjected is wrapped by every error this package makes up.
var ErrInjected = errors.New("injected object-store fault")

// Kind says what an injected put failure looks like.
type Kind int

const (
	// FailBefore fails the request without performing it (connection
	// refused, throttled).
	FailBefore Kind = iota
	// LoseResponse performs the request, then reports an error (timeout,
	// reset): the ambiguous outcome conditional writers must handle.
	LoseResponse
)

// Bucket is a Bucket with injectable faults. The zero fault state passes
// every request through.
type Bucket struct {
	objstore.Bucket

	mu struct {
		sync.Mutex
		down        bool
		latency     time.Duration
		latencyFunc func() time.Duration
		puts        []putFault
	}
}

type putFault struct {
	prefix string
	kind   Kind
	left   int
}

// Wrap returns b with fault injection.
func Wrap(b objstore.Bucket) *Bucket { return &Bucket{Bucket: b} }

// SetDown makes every request fail (true) or pass (false), as an outage
// of the store would.
func (f *Bucket) SetDown(down bool) {
	f.mu.Lock()
	f.mu.down = down
	f.mu.Unlock()
}

// SetLatency delays every request by d.
func (f *Bucket) SetLatency(d time.Duration) {
	f.mu.Lock()
	f.mu.latency, f.mu.latencyFunc = d, nil
	f.mu.Unlock()
}

// SetLatencyFunc delays every request by what next returns, drawn per
// request: a distribution rather than a constant, as a real store's
// first-byte latency is.
func (f *Bucket) SetLatencyFunc(next func() time.Duration) {
	f.mu.Lock()
	f.mu.latency, f.mu.latencyFunc = 0, next
	f.mu.Unlock()
}

// FailPuts makes the next n puts (of any kind) to keys starting with prefix
// fail in the given way.
func (f *Bucket) FailPuts(prefix string, n int, kind Kind) {
	f.mu.Lock()
	f.mu.puts = append(f.mu.puts, putFault{prefix: prefix, kind: kind, left: n})
	f.mu.Unlock()
}

// before applies latency and the outage; it returns an error if the
// request must fail.
func (f *Bucket) before(ctx context.Context, op, key string) error {
	f.mu.Lock()
	down, latency, next := f.mu.down, f.mu.latency, f.mu.latencyFunc
	f.mu.Unlock()
	if next != nil {
		latency = next()
	}
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	if down {
		return fmt.Errorf("%s %s: store down: %w", op, key, ErrInjected)
	}
	return nil
}

// putFault consumes a matching put fault, if any.
func (f *Bucket) takePutFault(key string) (Kind, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.mu.puts {
		p := &f.mu.puts[i]
		if p.left > 0 && strings.HasPrefix(key, p.prefix) {
			p.left--
			return p.kind, true
		}
	}
	return 0, false
}

func (f *Bucket) put(ctx context.Context, op, key string, do func() (string, error)) (string, error) {
	if err := f.before(ctx, op, key); err != nil {
		return "", err
	}
	kind, fault := f.takePutFault(key)
	if fault && kind == FailBefore {
		return "", fmt.Errorf("%s %s: request failed: %w", op, key, ErrInjected)
	}
	etag, err := do()
	if fault && kind == LoseResponse {
		return "", fmt.Errorf("%s %s: response lost (the write happened: %v): %w", op, key, err == nil, ErrInjected)
	}
	return etag, err
}

// Get implements objstore.Bucket.
func (f *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := f.before(ctx, "get", key); err != nil {
		return nil, err
	}
	return f.Bucket.Get(ctx, key)
}

// GetRange implements objstore.Bucket.
func (f *Bucket) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := f.before(ctx, "get", key); err != nil {
		return nil, err
	}
	return f.Bucket.GetRange(ctx, key, off, length)
}

// Head implements objstore.Bucket.
func (f *Bucket) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if err := f.before(ctx, "head", key); err != nil {
		return objstore.ObjectInfo{}, err
	}
	return f.Bucket.Head(ctx, key)
}

// List implements objstore.Bucket.
func (f *Bucket) List(ctx context.Context, prefix, startAfter string) iter.Seq2[objstore.ObjectInfo, error] {
	return func(yield func(objstore.ObjectInfo, error) bool) {
		if err := f.before(ctx, "list", prefix); err != nil {
			yield(objstore.ObjectInfo{}, err)
			return
		}
		for info, err := range f.Bucket.List(ctx, prefix, startAfter) {
			if !yield(info, err) {
				return
			}
		}
	}
}

// Put implements objstore.Bucket.
func (f *Bucket) Put(ctx context.Context, key string, data []byte) (string, error) {
	return f.put(ctx, "put", key, func() (string, error) { return f.Bucket.Put(ctx, key, data) })
}

// PutIfAbsent implements objstore.Bucket.
func (f *Bucket) PutIfAbsent(ctx context.Context, key string, data []byte) (string, error) {
	return f.put(ctx, "put-if-absent", key, func() (string, error) { return f.Bucket.PutIfAbsent(ctx, key, data) })
}

// PutIfMatch implements objstore.Bucket.
func (f *Bucket) PutIfMatch(ctx context.Context, key string, data []byte, etag string) (string, error) {
	return f.put(ctx, "put-if-match", key, func() (string, error) { return f.Bucket.PutIfMatch(ctx, key, data, etag) })
}

// Delete implements objstore.Bucket.
func (f *Bucket) Delete(ctx context.Context, key string) error {
	if err := f.before(ctx, "delete", key); err != nil {
		return err
	}
	return f.Bucket.Delete(ctx, key)
}

// Unwrap returns the bucket f injects faults into (objstore.Wrapper), so
// its store's prices and request counters are seen through f.
func (f *Bucket) Unwrap() objstore.Bucket { return f.Bucket }
