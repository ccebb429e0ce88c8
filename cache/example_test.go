package cache_test

import (
	"context"
	"fmt"

	"github.com/silt-io/silt/cache"
)

// An agent serving fetches: the writer keeps what it wrote, readers of
// older chunks fill from the bucket once, and a sequential reader's next
// chunk is read ahead.
func Example() {
	c, err := cache.New(cache.Options{MemoryBytes: 64 << 20})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	// After a segment PUT, the writer caches its chunks.
	c.Put("seg-a/0", []byte("batches of partition 0"))

	// A fetch of an older chunk: one ranged GET however many consumers ask.
	rangedGet := func(key string) func(context.Context) ([]byte, error) {
		return func(ctx context.Context) ([]byte, error) {
			return []byte("bytes of " + key), nil // bucket.GetRange(ctx, ...)
		}
	}
	v, err := c.GetOrFill(context.Background(), "seg-b/3", rangedGet("seg-b/3"))
	fmt.Println(string(v), err)

	// Read-ahead for the consumer's next chunk.
	c.Prefetch("seg-b/4", rangedGet("seg-b/4"))

	v, ok := c.Get("seg-a/0")
	fmt.Println(string(v), ok)
	// Output:
	// bytes of seg-b/3 <nil>
	// batches of partition 0 true
}
