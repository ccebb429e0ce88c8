package agent

import (
	"context"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// The agent's memory stays inside budgets it knows: the chunk cache
// (CacheBytes), the write path's buffer (agent/writer: max(4·FlushBytes,
// 64 MiB) appended and not yet answered, in memory twice while a segment
// is built) and the bytes of requests read
// and not yet answered (QueuedRequestBytes, as Kafka's
// queued.max.request.bytes). The last is byteBudget: a connection's reader
// takes a frame's size from it before reading the frame, and gives it back
// once the request is answered, so a client beyond it waits (its TCP
// window fills) instead of the agent allocating without bound for many or
// big requests. MemoryLimit turns the sum into Go's soft memory limit, so
// the garbage collector works harder rather than let the heap double past
// the budgets (GOGC's default).

// byteBudget is a FIFO weighted semaphore of bytes. A request larger than
// the whole budget waits until it has all of it.
type byteBudget struct {
	total int64
	mu    struct {
		sync.Mutex
		used    int64
		waiters []*budgetWaiter
	}
	inUse prometheus.Gauge
	waits prometheus.Counter
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed once the bytes are granted
}

func newByteBudget(total int64, reg prometheus.Registerer) *byteBudget {
	b := &byteBudget{
		total: total,
		inUse: prometheus.NewGauge(prometheus.GaugeOpts{Name: "silt_queued_request_bytes",
			Help: "Bytes of requests read and not yet answered, within silt_queued_request_bytes_budget."}),
		waits: prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_queued_request_waits_total",
			Help: "Requests whose reading waited for the queued request bytes budget."}),
	}
	limit := prometheus.NewGauge(prometheus.GaugeOpts{Name: "silt_queued_request_bytes_budget",
		Help: "The budget of bytes of requests read and not yet answered (QueuedRequestBytes)."})
	limit.Set(float64(total))
	reg.MustRegister(b.inUse, b.waits, limit)
	return b
}

// acquire takes n bytes (at most the whole budget), waiting in turn until
// they are free or ctx ends. It returns what it took, to give back with
// release.
func (b *byteBudget) acquire(ctx context.Context, n int64) (int64, error) {
	n = min(n, b.total)
	b.mu.Lock()
	if len(b.mu.waiters) == 0 && b.mu.used+n <= b.total {
		b.mu.used += n
		b.mu.Unlock()
		b.inUse.Add(float64(n))
		return n, nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.mu.waiters = append(b.mu.waiters, w)
	b.mu.Unlock()
	b.waits.Inc()
	select {
	case <-w.ready:
		return n, nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready: // granted meanwhile: give it back
			b.mu.Unlock()
			b.release(n)
		default:
			b.mu.waiters = slices.DeleteFunc(b.mu.waiters, func(x *budgetWaiter) bool { return x == w })
			b.grantLocked() // the head may have changed
			b.mu.Unlock()
		}
		return 0, ctx.Err()
	}
}

// release gives back n bytes taken by acquire.
func (b *byteBudget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.mu.used -= n
	b.grantLocked()
	b.mu.Unlock()
	b.inUse.Sub(float64(n))
}

// grantLocked grants waiters in order while their bytes fit.
func (b *byteBudget) grantLocked() {
	for len(b.mu.waiters) > 0 && b.mu.used+b.mu.waiters[0].n <= b.total {
		w := b.mu.waiters[0]
		b.mu.waiters = b.mu.waiters[1:]
		b.mu.used += w.n
		b.inUse.Add(float64(w.n))
		close(w.ready)
	}
}
