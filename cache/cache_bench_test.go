package cache_test

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/silt-io/silt/cache"
)

// getter is the hit path under measurement.
type getter interface {
	Get(key string) ([]byte, bool)
	Put(key string, value []byte)
}

// BenchmarkGetHitParallel measures the fetch hot path: every goroutine reads
// cached chunks. The cache is compared with the designs the package doc
// rejects, each reduced to its hit path and counting hits as the cache does:
//
//	cache           sync.Map index, CLOCK bit, striped hit counter (this package)
//	syncmap-atomic  the same with one atomic.Int64 hit counter
//	rwmutex-clock   map under sync.RWMutex, CLOCK bit, atomic counter
//	mutex-lru       map and container/list under sync.Mutex, atomic counter
//
// Run with -cpu 1,2,4,... to see how each scales.
func BenchmarkGetHitParallel(b *testing.B) {
	impls := []struct {
		name string
		new  func(b *testing.B) getter
	}{
		{"cache", func(b *testing.B) getter { return newCache(b, cache.Options{MemoryBytes: 1 << 30}) }},
		{"syncmap-atomic", func(*testing.B) getter { return &syncMapAtomic{} }},
		{"rwmutex-clock", func(*testing.B) getter { return &rwClock{m: map[string]*refValue{}} }},
		{"mutex-lru", func(*testing.B) getter { return &mutexLRU{m: map[string]*list.Element{}} }},
	}
	for _, impl := range impls {
		b.Run(impl.name, func(b *testing.B) {
			const n = 1024 // chunks of a few hundred partitions
			keys := make([]string, n)
			g := impl.new(b)
			for i := range keys {
				keys[i] = fmt.Sprintf("%020x/%d", i*7919, i%64)
				g.Put(keys[i], make([]byte, 4096))
			}
			var seed atomic.Uint64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := seed.Add(1) * 131 // goroutines start apart
				for pb.Next() {
					if _, ok := g.Get(keys[i%n]); !ok {
						b.Error("miss")
						return
					}
					i++
				}
			})
		})
	}
}

// BenchmarkGetHit is the single-goroutine hit path, for the fixed cost.
func BenchmarkGetHit(b *testing.B) {
	c := newCache(b, cache.Options{})
	c.Put("seg/0", make([]byte, 4096))
	for b.Loop() {
		c.Get("seg/0")
	}
}

// BenchmarkPutEvict measures Put on a full memory tier, each Put evicting.
func BenchmarkPutEvict(b *testing.B) {
	v := make([]byte, 4096)
	c := newCache(b, cache.Options{MemoryBytes: 1024 * cache.Charge("00000000", v)})
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("%08d", i)
	}
	i := 0
	for b.Loop() {
		c.Put(keys[i%len(keys)], v)
		i++
	}
}

// BenchmarkGetOrFillMiss measures a miss with a fill that returns at once:
// the cost of single-flight bookkeeping and the fill goroutine.
func BenchmarkGetOrFillMiss(b *testing.B) {
	c := newCache(b, cache.Options{})
	v := make([]byte, 4096)
	fill := func(context.Context) ([]byte, error) { return v, nil }
	ctx := context.Background()
	i := 0
	for b.Loop() {
		key := fmt.Sprint(i)
		if _, err := c.GetOrFill(ctx, key, fill); err != nil {
			b.Fatal(err)
		}
		c.Delete(key)
		i++
	}
}

type refValue struct {
	v   []byte
	ref atomic.Bool
}

func (r *refValue) hit() []byte {
	if !r.ref.Load() {
		r.ref.Store(true)
	}
	return r.v
}

type syncMapAtomic struct {
	m    sync.Map
	hits atomic.Int64
}

func (c *syncMapAtomic) Put(k string, v []byte) { c.m.Store(k, &refValue{v: v}) }
func (c *syncMapAtomic) Get(k string) ([]byte, bool) {
	r, ok := c.m.Load(k)
	if !ok {
		return nil, false
	}
	c.hits.Add(1)
	return r.(*refValue).hit(), true
}

type rwClock struct {
	mu   sync.RWMutex
	m    map[string]*refValue
	hits atomic.Int64
}

func (c *rwClock) Put(k string, v []byte) {
	c.mu.Lock()
	c.m[k] = &refValue{v: v}
	c.mu.Unlock()
}

func (c *rwClock) Get(k string) ([]byte, bool) {
	c.mu.RLock()
	r, ok := c.m[k]
	c.mu.RUnlock()
	if !ok {
		return nil, false
	}
	c.hits.Add(1)
	return r.hit(), true
}

type mutexLRU struct {
	mu   sync.Mutex
	m    map[string]*list.Element
	l    list.List
	hits atomic.Int64
}

func (c *mutexLRU) Put(k string, v []byte) {
	c.mu.Lock()
	c.m[k] = c.l.PushFront(v)
	c.mu.Unlock()
}

func (c *mutexLRU) Get(k string) ([]byte, bool) {
	c.mu.Lock()
	e, ok := c.m[k]
	if !ok {
		c.mu.Unlock()
		return nil, false
	}
	c.l.MoveToFront(e)
	c.mu.Unlock()
	c.hits.Add(1)
	return e.Value.([]byte), true
}
