package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/silt-io/silt/cache"
)

// TestConcurrentMixedWorkload runs every operation at once on a cache with
// small budgets in both tiers, so evictions, demotions, promotions and fills
// interleave (run it with -race). Every key has one canonical value, so any
// hit that returns other bytes is a bug. Afterwards the accounting must
// match the files on disk.
func TestConcurrentMixedWorkload(t *testing.T) {
	const keys = 100
	canonical := func(k int) []byte { return val(fmt.Sprintf("<%d>", k), 256+k*13%1024) }
	memBudget := 16 * cache.Charge("k00", canonical(keys-1))
	diskBudget := int64(24 * (20 + 3 + 1500))
	dir := t.TempDir()
	c := newCache(t, cache.Options{MemoryBytes: memBudget, Dir: dir, DiskBytes: diskBudget, MaxPrefetches: 2})

	errFill := errors.New("injected fill error")
	fill := func(k int, r *rand.Rand) func(context.Context) ([]byte, error) {
		fail := r.IntN(10) == 0
		sleep := time.Duration(r.IntN(200)) * time.Microsecond
		return func(ctx context.Context) ([]byte, error) {
			select {
			case <-time.After(sleep):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if fail {
				return nil, errFill
			}
			return canonical(k), nil
		}
	}

	ops := 3000
	if testing.Short() {
		ops = 500
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for range ops {
				k := r.IntN(keys)
				key := fmt.Sprintf("k%02d", k)
				check := func(what string, v []byte) {
					if !bytes.Equal(v, canonical(k)) {
						t.Errorf("%s(%s) returned %d bytes that are not its value", what, key, len(v))
					}
				}
				switch op := r.IntN(100); {
				case op < 40:
					if v, ok := c.Get(key); ok {
						check("Get", v)
					}
				case op < 60:
					c.Put(key, canonical(k))
				case op < 65:
					c.Delete(key)
				case op < 90:
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.IntN(300))*time.Microsecond)
					v, err := c.GetOrFill(ctx, key, fill(k, r))
					cancel()
					if err == nil {
						check("GetOrFill", v)
					} else if !errors.Is(err, errFill) && !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("GetOrFill(%s): unexpected error %v", key, err)
					}
				default:
					c.Prefetch(key, fill(k, r))
				}
				if s := c.Stats(); s.MemoryBytes > memBudget || s.DiskBytes > diskBudget {
					t.Errorf("over budget: %+v", s)
				}
			}
		})
	}
	wg.Wait()
	waitIdle(t, c)

	s := c.Stats()
	t.Logf("%+v", s)
	if s.DiskHits == 0 || s.Evictions == 0 || s.Fills == 0 {
		t.Errorf("the workload did not exercise every path: %+v", s)
	}
	var n, size int64
	for _, name := range cacheFiles(t, dir) {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		n++
		size += fi.Size()
	}
	if n != s.DiskEntries || size != s.DiskBytes {
		t.Errorf("disk holds %d files of %d bytes; Stats say %d entries of %d bytes", n, size, s.DiskEntries, s.DiskBytes)
	}
	for k := range keys {
		if v, ok := c.Get(fmt.Sprintf("k%02d", k)); ok && !bytes.Equal(v, canonical(k)) {
			t.Errorf("k%02d holds bytes that are not its value", k)
		}
	}
}
