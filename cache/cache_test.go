package cache_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/silt-io/silt/cache"
)

func TestNewRejectsNegativeOptions(t *testing.T) {
	for _, opts := range []cache.Options{
		{MemoryBytes: -1},
		{Dir: t.TempDir(), DiskBytes: -1},
		{MaxPrefetches: -1},
		{FillTimeout: -1},
	} {
		if c, err := cache.New(opts); err == nil {
			c.Close()
			t.Errorf("New(%+v) succeeded; want an error", opts)
		}
	}
}

func TestGetReturnsWhatPutStored(t *testing.T) {
	c := newCache(t, cache.Options{MemoryBytes: 1 << 20})
	if _, ok := c.Get("seg/0"); ok {
		t.Fatal("Get on an empty cache hit")
	}
	c.Put("seg/0", []byte("chunk zero"))
	c.Put("seg/1", []byte("chunk one"))
	c.Put("seg/0", []byte("chunk zero, again")) // replaces
	for key, want := range map[string]string{"seg/0": "chunk zero, again", "seg/1": "chunk one"} {
		if got, ok := c.Get(key); !ok || string(got) != want {
			t.Errorf("Get(%q) = %q, %v; want %q, true", key, got, ok, want)
		}
	}
	s := c.Stats()
	want := cache.Charge("seg/0", []byte("chunk zero, again")) + cache.Charge("seg/1", []byte("chunk one"))
	if s.Hits != 2 || s.Misses != 1 || s.Entries != 2 || s.MemoryBytes != want {
		t.Errorf("Stats = %+v; want 2 hits, 1 miss, 2 entries, %d bytes", s, want)
	}
}

func TestDeleteRemovesTheKey(t *testing.T) {
	c := newCache(t, cache.Options{})
	c.Put("k", []byte("v"))
	c.Delete("k")
	c.Delete("never there")
	if v, ok := c.Get("k"); ok {
		t.Errorf("Get after Delete = %q; want a miss", v)
	}
	if s := c.Stats(); s.Entries != 0 || s.MemoryBytes != 0 {
		t.Errorf("Stats after Delete = %+v; want empty", s)
	}
}

func TestValueLargerThanBudgetIsNotCached(t *testing.T) {
	small := []byte("small")
	budget := cache.Charge("k", small) + 10
	c := newCache(t, cache.Options{MemoryBytes: budget})
	c.Put("k", small)
	c.Put("big", make([]byte, budget))
	if _, ok := c.Get("big"); ok {
		t.Error("a value larger than the budget was cached")
	}
	if _, ok := c.Get("k"); !ok {
		t.Error("caching nothing evicted an entry")
	}
	// A too-big value for a cached key still replaces it: no stale value.
	c.Put("k", make([]byte, budget))
	if _, ok := c.Get("k"); ok {
		t.Error("the old value survived a Put of a too-big value")
	}
}

// TestBudgetNeverExceeded puts values of random sizes from many goroutines
// and checks the budget after every Put, while readers hit the cache.
func TestBudgetNeverExceeded(t *testing.T) {
	const budget = 64 << 10
	c := newCache(t, cache.Options{MemoryBytes: budget})
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 2000 {
				key := fmt.Sprintf("%d/%d", g, r.IntN(200))
				if i%3 == 0 {
					c.Get(key)
					continue
				}
				c.Put(key, make([]byte, r.IntN(8<<10)))
				if s := c.Stats(); s.MemoryBytes > budget || s.MemoryBytes < 0 {
					errs <- fmt.Sprintf("after Put(%q): MemoryBytes = %d, budget %d", key, s.MemoryBytes, budget)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if s := c.Stats(); s.Evictions == 0 {
		t.Errorf("Stats = %+v; the test should have caused evictions", s)
	}
}

// TestReplacementKeepsRecentlyUsed runs scripts against a cache with room
// for three entries. Replacement is CLOCK, which agrees with LRU on all of
// these: a hit gives an entry a second chance, the oldest unused entry goes.
func TestReplacementKeepsRecentlyUsed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script string // "put x" and "get x", comma separated
		want   string // resident keys, sorted
	}{
		{"fills up to the budget", "put a, put b, put c", "a b c"},
		{"the oldest goes first", "put a, put b, put c, put d", "b c d"},
		{"a recently read entry survives", "put a, put b, put c, get a, put d", "a c d"},
		{"a second read is not needed", "put a, put b, put c, get b, put d, put e", "b d e"},
		{"when all were read the oldest goes", "put a, put b, put c, get a, get b, get c, put d", "b c d"},
		{"a second chance is spent", "put a, put b, put c, get a, put d, put e", "a d e"},
		{"re-putting makes an entry new", "put a, put b, put c, put a, put d", "a c d"},
		{"reading a missing key changes nothing", "put a, put b, put c, get z, put d", "b c d"},
		{"a deleted entry frees its room", "put a, put b, put c, del b, put d", "a c d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := make([]byte, 100)
			c := newCache(t, cache.Options{MemoryBytes: 3 * cache.Charge("a", v)})
			for step := range strings.SplitSeq(tc.script, ", ") {
				op, key, _ := strings.Cut(step, " ")
				switch op {
				case "put":
					c.Put(key, v)
				case "get":
					c.Get(key)
				case "del":
					c.Delete(key)
				default:
					t.Fatalf("bad step %q", step)
				}
			}
			var got []string
			for _, k := range "abcdez" {
				if cache.Resident(c, string(k)) {
					got = append(got, string(k))
				}
			}
			slices.Sort(got)
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("after %q resident = %q; want %q", tc.script, g, tc.want)
			}
		})
	}
}

func TestGetReturnsSharedValue(t *testing.T) {
	c := newCache(t, cache.Options{})
	v := []byte("immutable")
	c.Put("k", v)
	got, _ := c.Get("k")
	if &got[0] != &v[0] {
		t.Error("Get copied the value; the hit path should share it")
	}
	if !bytes.Equal(got, []byte("immutable")) {
		t.Errorf("Get = %q", got)
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	c := newCache(t, cache.Options{Dir: t.TempDir()})
	c.Put("k", []byte("v"))
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	wg.Wait()
	if err := c.Close(); err != nil {
		t.Errorf("Close again: %v", err)
	}
	// What is cached stays readable.
	if _, ok := c.Get("k"); !ok {
		t.Error("Get after Close missed")
	}
}
