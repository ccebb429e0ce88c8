// Package objstoretest is the conformance suite every objstore driver
// passes. Each clause of the Bucket contract (see package objstore) is a
// subtest, so one failure does not hide the others.
//
// A driver's test calls Run with a function that returns an empty bucket (or
// an empty prefix of a shared one) for each subtest:
//
//	func TestConformance(t *testing.T) {
//		objstoretest.Run(t, func(t *testing.T) objstore.Bucket { return mem.New() })
//	}
package objstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/silt-io/silt/objstore"
)

// Options tunes the suite for slow drivers; the zero value runs everything
// at full size.
type Options struct {
	// LargeObjectSize is the size of the large-object clause; 0 means 64 MiB.
	LargeObjectSize int
}

// Run runs every clause of the contract against buckets from newBucket.
func Run(t *testing.T, newBucket func(t *testing.T) objstore.Bucket) {
	RunWithOptions(t, newBucket, Options{})
}

// RunWithOptions is Run with options.
func RunWithOptions(t *testing.T, newBucket func(t *testing.T) objstore.Bucket, opts Options) {
	if opts.LargeObjectSize == 0 {
		opts.LargeObjectSize = 64 << 20
	}
	clauses := []struct {
		name string
		fn   func(t *testing.T, b objstore.Bucket)
	}{
		{"PutGetHead", testPutGetHead},
		{"OverwriteChangesETag", testOverwrite},
		{"EmptyObject", testEmptyObject},
		{"NotFound", testNotFound},
		{"Ranges", testRanges},
		{"PutIfAbsent", testPutIfAbsent},
		{"PutIfAbsentRace", testPutIfAbsentRace},
		{"PutIfMatch", testPutIfMatch},
		{"PutIfMatchRace", testPutIfMatchRace},
		{"LargeObject", func(t *testing.T, b objstore.Bucket) { testLargeObject(t, b, opts.LargeObjectSize) }},
		{"ListOrderAndPrefix", testListOrder},
		{"ListPaginates", testListPaginates},
		{"Delete", testDelete},
		{"InvalidKeys", testInvalidKeys},
		{"CancelledContext", testCancelledContext},
		{"AtomicOverwrite", testAtomicOverwrite},
	}
	for _, c := range clauses {
		t.Run(c.name, func(t *testing.T) {
			b := newBucket(t)
			c.fn(t, b)
		})
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustPut(t *testing.T, b objstore.Bucket, key string, data []byte) string {
	t.Helper()
	etag, err := b.Put(ctxT(t), key, data)
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	if etag == "" {
		t.Fatalf("Put(%q) returned an empty ETag", key)
	}
	return etag
}

func mustGet(t *testing.T, b objstore.Bucket, key string) []byte {
	t.Helper()
	data, err := objstore.ReadAll(ctxT(t), b, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return data
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	buf := make([]byte, n)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	return buf
}

func testPutGetHead(t *testing.T, b objstore.Bucket) {
	data := []byte("hello, bucket")
	etag := mustPut(t, b, "dir/sub/obj", data)
	if got := mustGet(t, b, "dir/sub/obj"); !bytes.Equal(got, data) {
		t.Fatalf("Get = %q, want %q", got, data)
	}
	info, err := b.Head(ctxT(t), "dir/sub/obj")
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if info.Size != int64(len(data)) {
		t.Errorf("Head size = %d, want %d", info.Size, len(data))
	}
	if info.ETag != etag {
		t.Errorf("Head ETag = %q, Put returned %q", info.ETag, etag)
	}
	if info.Key != "dir/sub/obj" {
		t.Errorf("Head key = %q", info.Key)
	}
	if bytes.ContainsRune([]byte(etag), '"') {
		t.Errorf("ETag %q is quoted", etag)
	}
}

func testOverwrite(t *testing.T, b objstore.Bucket) {
	e1 := mustPut(t, b, "k", []byte("one"))
	e2 := mustPut(t, b, "k", []byte("two"))
	if e1 == e2 {
		t.Errorf("ETag unchanged (%q) after content changed", e1)
	}
	if got := mustGet(t, b, "k"); string(got) != "two" {
		t.Errorf("Get after overwrite = %q, want %q", got, "two")
	}
}

func testEmptyObject(t *testing.T, b objstore.Bucket) {
	mustPut(t, b, "empty", nil)
	if got := mustGet(t, b, "empty"); len(got) != 0 {
		t.Errorf("Get = %q, want empty", got)
	}
	info, err := b.Head(ctxT(t), "empty")
	if err != nil || info.Size != 0 {
		t.Errorf("Head = %+v, %v; want size 0", info, err)
	}
	if _, err := b.GetRange(ctxT(t), "empty", 0, 1); !errors.Is(err, objstore.ErrInvalidRange) {
		t.Errorf("GetRange(0,1) of an empty object: err = %v, want ErrInvalidRange", err)
	}
}

func testNotFound(t *testing.T, b objstore.Bucket) {
	ctx := ctxT(t)
	if _, err := b.Get(ctx, "missing/key"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Get: err = %v, want ErrNotFound", err)
	}
	if _, err := b.GetRange(ctx, "missing/key", 0, 10); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("GetRange: err = %v, want ErrNotFound", err)
	}
	if _, err := b.Head(ctx, "missing/key"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Head: err = %v, want ErrNotFound", err)
	}
}

func testRanges(t *testing.T, b objstore.Bucket) {
	data := randomBytes(1000, 1)
	mustPut(t, b, "ranged", data)
	for _, tc := range []struct {
		off, length int64
		want        []byte
		wantErr     error
	}{
		{off: 0, length: 1, want: data[:1]},
		{off: 0, length: 1000, want: data},
		{off: 10, length: 90, want: data[10:100]},
		{off: 999, length: 1, want: data[999:]},
		{off: 999, length: 10, want: data[999:]},
		{off: 500, length: -1, want: data[500:]},
		{off: 0, length: -1, want: data},
		{off: 0, length: 5000, want: data},
		{off: 1000, length: 1, wantErr: objstore.ErrInvalidRange},
		{off: 2000, length: 10, wantErr: objstore.ErrInvalidRange},
	} {
		t.Run(fmt.Sprintf("%d+%d", tc.off, tc.length), func(t *testing.T) {
			rc, err := b.GetRange(ctxT(t), "ranged", tc.off, tc.length)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("GetRange: %v", err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("got %d bytes, want %d (content equal: %v)", len(got), len(tc.want), bytes.Equal(got, tc.want))
			}
		})
	}
	t.Run("ZeroLength", func(t *testing.T) {
		got, err := objstore.ReadRange(ctxT(t), b, "ranged", 10, 0)
		if err != nil || len(got) != 0 {
			t.Fatalf("ReadRange(10, 0) = %d bytes, %v; want empty", len(got), err)
		}
	})
}

func testPutIfAbsent(t *testing.T, b objstore.Bucket) {
	ctx := ctxT(t)
	etag, err := b.PutIfAbsent(ctx, "journal/1", []byte("first"))
	if err != nil || etag == "" {
		t.Fatalf("PutIfAbsent on a new key = %q, %v", etag, err)
	}
	if _, err := b.PutIfAbsent(ctx, "journal/1", []byte("second")); !errors.Is(err, objstore.ErrExists) {
		t.Fatalf("PutIfAbsent on an existing key: err = %v, want ErrExists", err)
	}
	if got := mustGet(t, b, "journal/1"); string(got) != "first" {
		t.Fatalf("content after a failed PutIfAbsent = %q, want %q", got, "first")
	}
}

// race runs n goroutines released together and returns their results.
func race(n int, fn func(i int) error) []error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func winners(t *testing.T, errs []error, lose error) int {
	t.Helper()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if won >= 0 {
				t.Errorf("writers %d and %d both won", won, i)
			}
			won = i
		case !errors.Is(err, lose):
			t.Errorf("writer %d: err = %v, want nil or %v", i, err, lose)
		}
	}
	if won < 0 {
		t.Fatalf("no writer won")
	}
	return won
}

func testPutIfAbsentRace(t *testing.T, b objstore.Bucket) {
	const n = 16
	ctx := ctxT(t)
	errs := race(n, func(i int) error {
		_, err := b.PutIfAbsent(ctx, "contended", fmt.Appendf(nil, "writer-%02d", i))
		return err
	})
	won := winners(t, errs, objstore.ErrExists)
	if got, want := string(mustGet(t, b, "contended")), fmt.Sprintf("writer-%02d", won); got != want {
		t.Fatalf("stored %q, but the winner was %q", got, want)
	}
}

func testPutIfMatch(t *testing.T, b objstore.Bucket) {
	ctx := ctxT(t)
	if _, err := b.PutIfMatch(ctx, "cas", []byte("x"), "0123456789abcdef0123456789abcdef"); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Errorf("PutIfMatch on a missing key: err = %v, want ErrPreconditionFailed", err)
	}
	e1 := mustPut(t, b, "cas", []byte("v1"))
	if _, err := b.PutIfMatch(ctx, "cas", []byte("bad"), "0123456789abcdef0123456789abcdef"); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Errorf("PutIfMatch with a wrong ETag: err = %v, want ErrPreconditionFailed", err)
	}
	e2, err := b.PutIfMatch(ctx, "cas", []byte("v2"), e1)
	if err != nil {
		t.Fatalf("PutIfMatch with the current ETag: %v", err)
	}
	if e2 == e1 || e2 == "" {
		t.Errorf("new ETag = %q, old %q", e2, e1)
	}
	if _, err := b.PutIfMatch(ctx, "cas", []byte("v3"), e1); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Errorf("PutIfMatch with a stale ETag: err = %v, want ErrPreconditionFailed", err)
	}
	if got := mustGet(t, b, "cas"); string(got) != "v2" {
		t.Errorf("content = %q, want v2", got)
	}
	info, err := b.Head(ctx, "cas")
	if err != nil || info.ETag != e2 {
		t.Errorf("Head = %+v, %v; want ETag %q", info, err, e2)
	}
}

func testPutIfMatchRace(t *testing.T, b objstore.Bucket) {
	const n = 16
	ctx := ctxT(t)
	etag := mustPut(t, b, "cas", []byte("base"))
	errs := race(n, func(i int) error {
		_, err := b.PutIfMatch(ctx, "cas", fmt.Appendf(nil, "writer-%02d", i), etag)
		return err
	})
	won := winners(t, errs, objstore.ErrPreconditionFailed)
	if got, want := string(mustGet(t, b, "cas")), fmt.Sprintf("writer-%02d", won); got != want {
		t.Fatalf("stored %q, but the winner was %q", got, want)
	}
}

func testLargeObject(t *testing.T, b objstore.Bucket, size int) {
	data := randomBytes(size, 2)
	etag := mustPut(t, b, "large", data)
	if got := mustGet(t, b, "large"); !bytes.Equal(got, data) {
		t.Fatalf("large object differs after a round trip (%d bytes back of %d)", len(got), len(data))
	}
	mid, n := int64(size/2), int64(size/4)
	got, err := objstore.ReadRange(ctxT(t), b, "large", mid, n)
	if err != nil || !bytes.Equal(got, data[mid:mid+n]) {
		t.Fatalf("ranged read in the middle: %d bytes, err %v", len(got), err)
	}
	info, err := b.Head(ctxT(t), "large")
	if err != nil || info.Size != int64(size) || info.ETag != etag {
		t.Fatalf("Head = %+v, %v", info, err)
	}
}

func listKeys(t *testing.T, b objstore.Bucket, prefix, startAfter string) []string {
	t.Helper()
	var keys []string
	for info, err := range b.List(ctxT(t), prefix, startAfter) {
		if err != nil {
			t.Fatalf("List(%q, %q): %v", prefix, startAfter, err)
		}
		keys = append(keys, info.Key)
	}
	return keys
}

func testListOrder(t *testing.T, b objstore.Bucket) {
	// "a-c" sorts before "a/b" ('-' < '/'): a driver that walks directories
	// depth-first gets this wrong.
	keys := []string{"a/b", "a-c", "a/b0", "a/c/d", "b", "ab"}
	for _, k := range keys {
		mustPut(t, b, k, []byte(k))
	}
	for _, tc := range []struct {
		prefix, startAfter string
		want               []string
	}{
		{"", "", []string{"a-c", "a/b", "a/b0", "a/c/d", "ab", "b"}},
		{"a/", "", []string{"a/b", "a/b0", "a/c/d"}},
		{"a", "", []string{"a-c", "a/b", "a/b0", "a/c/d", "ab"}},
		{"a/b", "", []string{"a/b", "a/b0"}},
		{"", "a/b", []string{"a/b0", "a/c/d", "ab", "b"}},
		{"a/", "a/b0", []string{"a/c/d"}},
		{"", "a/c", []string{"a/c/d", "ab", "b"}},
		{"zzz", "", nil},
		{"", "zzz", nil},
	} {
		got := listKeys(t, b, tc.prefix, tc.startAfter)
		if !slices.Equal(got, tc.want) {
			t.Errorf("List(%q, %q) = %q, want %q", tc.prefix, tc.startAfter, got, tc.want)
		}
	}
	for info, err := range b.List(ctxT(t), "a/c/", "") {
		if err != nil || info.Size != int64(len("a/c/d")) || info.ETag == "" {
			t.Errorf("List info = %+v, %v", info, err)
		}
	}
}

func testListPaginates(t *testing.T, b objstore.Bucket) {
	const n = 2500
	ctx := ctxT(t)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("many/%05d", i)
	}
	work := make(chan string)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range 16 {
		wg.Go(func() {
			for k := range work {
				if _, err := b.Put(ctx, k, []byte(k)); err != nil {
					errs <- err
				}
			}
		})
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Put: %v", err)
	}
	mustPut(t, b, "other", []byte("not listed"))
	if got := listKeys(t, b, "many/", ""); !slices.Equal(got, keys) {
		t.Fatalf("List returned %d keys, want %d in order", len(got), n)
	}
	if got := listKeys(t, b, "many/", keys[1199]); !slices.Equal(got, keys[1200:]) {
		t.Fatalf("List after %s returned %d keys, want %d", keys[1199], len(got), n-1200)
	}
	// Stopping early must not leak or block.
	count := 0
	for _, err := range b.List(ctx, "many/", "") {
		if err != nil {
			t.Fatal(err)
		}
		if count++; count == 10 {
			break
		}
	}
}

func testDelete(t *testing.T, b objstore.Bucket) {
	ctx := ctxT(t)
	mustPut(t, b, "gone", []byte("x"))
	if err := b.Delete(ctx, "gone"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.Get(ctx, "gone"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Get after Delete: err = %v, want ErrNotFound", err)
	}
	if err := b.Delete(ctx, "never/was"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	if keys := listKeys(t, b, "", ""); len(keys) != 0 {
		t.Errorf("List after Delete = %q", keys)
	}
	if _, err := b.PutIfAbsent(ctx, "gone", []byte("again")); err != nil {
		t.Errorf("PutIfAbsent after Delete: %v", err)
	}
}

func testInvalidKeys(t *testing.T, b objstore.Bucket) {
	for _, key := range []string{"", "/abs", "trailing/", "a//b", "a/./b", "a/../b", ".."} {
		if _, err := b.Put(ctxT(t), key, []byte("x")); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("Put(%q): err = %v, want ErrInvalidKey", key, err)
		}
	}
}

func testCancelledContext(t *testing.T, b objstore.Bucket) {
	mustPut(t, b, "present", []byte("x"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ops := map[string]func() error{
		"Get":         func() error { _, err := b.Get(ctx, "present"); return err },
		"GetRange":    func() error { _, err := b.GetRange(ctx, "present", 0, 1); return err },
		"Head":        func() error { _, err := b.Head(ctx, "present"); return err },
		"Put":         func() error { _, err := b.Put(ctx, "k", []byte("x")); return err },
		"PutIfAbsent": func() error { _, err := b.PutIfAbsent(ctx, "k2", []byte("x")); return err },
		"PutIfMatch":  func() error { _, err := b.PutIfMatch(ctx, "present", []byte("y"), "e"); return err },
		"Delete":      func() error { return b.Delete(ctx, "present") },
		"List": func() error {
			for _, err := range b.List(ctx, "", "") {
				if err != nil {
					return err
				}
			}
			return nil
		},
	}
	for name, op := range ops {
		start := time.Now()
		err := op()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: err = %v, want context.Canceled", name, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s with a cancelled context took %v", name, d)
		}
	}
	if got := mustGet(t, b, "present"); string(got) != "x" {
		t.Errorf("a cancelled operation changed the object: %q", got)
	}
}

// testAtomicOverwrite checks that readers never see a torn object while a
// writer replaces it.
func testAtomicOverwrite(t *testing.T, b objstore.Bucket) {
	a := bytes.Repeat([]byte("A"), 256<<10)
	c := bytes.Repeat([]byte("C"), 256<<10)
	mustPut(t, b, "flip", a)
	ctx := ctxT(t)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for i := range 20 {
			data := a
			if i%2 == 0 {
				data = c
			}
			if _, err := b.Put(ctx, "flip", data); err != nil {
				t.Errorf("Put: %v", err)
				return
			}
		}
	})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				got, err := objstore.ReadAll(ctx, b, "flip")
				if err != nil {
					t.Errorf("Get during overwrite: %v", err)
					return
				}
				if !bytes.Equal(got, a) && !bytes.Equal(got, c) {
					t.Errorf("torn read: %d bytes", len(got))
					return
				}
			}
		})
	}
	wg.Wait()
}
