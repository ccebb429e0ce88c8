// Package mem is an in-memory objstore driver for unit tests and for
// single-process experiments. It honours the whole Bucket contract, including
// conditional puts, so code tested against it behaves the same on S3.
//
// Buckets opened by URL ("mem://name") are shared by name within the
// process, so two agents in one test can open the same bucket.
package mem

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/silt-io/silt/objstore"
)

func init() {
	objstore.Register("mem", func(_ context.Context, loc objstore.Location, _ objstore.Config) (objstore.Bucket, error) {
		return Shared(loc.Bucket), nil
	})
}

var shared = struct {
	sync.Mutex
	m map[string]*store
}{m: map[string]*store{}}

// Shared returns a bucket backed by the process-wide store of that name,
// creating it on first use. Closing the bucket does not drop the store.
func Shared(name string) objstore.Bucket {
	shared.Lock()
	defer shared.Unlock()
	s, ok := shared.m[name]
	if !ok {
		s = &store{objects: map[string]object{}}
		shared.m[name] = s
	}
	return &Bucket{name: "mem://" + name, s: s}
}

// New returns an empty private bucket.
func New() *Bucket {
	return &Bucket{name: "mem://", s: &store{objects: map[string]object{}}}
}

// Bucket is an in-memory objstore.Bucket.
type Bucket struct {
	name string
	s    *store
}

type store struct {
	mu      sync.RWMutex
	objects map[string]object // guarded by mu
}

type object struct {
	data    []byte // never mutated after it is stored
	etag    string
	modTime time.Time
}

func etagOf(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}

// Name implements objstore.Bucket.
func (b *Bucket) Name() string { return b.name }

// Close implements objstore.Bucket; the objects stay.
func (b *Bucket) Close() error { return nil }

func (b *Bucket) get(ctx context.Context, key string) (object, error) {
	if err := ctx.Err(); err != nil {
		return object{}, err
	}
	if err := objstore.ValidateKey(key); err != nil {
		return object{}, err
	}
	b.s.mu.RLock()
	o, ok := b.s.objects[key]
	b.s.mu.RUnlock()
	if !ok {
		return object{}, fmt.Errorf("mem get %s: %w", key, objstore.ErrNotFound)
	}
	return o, nil
}

// Get implements objstore.Bucket.
func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	o, err := b.get(ctx, key)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

// GetRange implements objstore.Bucket.
func (b *Bucket) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	o, err := b.get(ctx, key)
	if err != nil {
		return nil, err
	}
	size := int64(len(o.data))
	if off < 0 || off >= size {
		return nil, fmt.Errorf("mem get %s range %d+%d of %d: %w", key, off, length, size, objstore.ErrInvalidRange)
	}
	end := size
	if length >= 0 && off+length < size {
		end = off + length
	}
	return io.NopCloser(bytes.NewReader(o.data[off:end])), nil
}

// Head implements objstore.Bucket.
func (b *Bucket) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	o, err := b.get(ctx, key)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	return objstore.ObjectInfo{Key: key, Size: int64(len(o.data)), ETag: o.etag, LastModified: o.modTime}, nil
}

// List implements objstore.Bucket. It lists a snapshot of the keys taken
// when iteration starts.
func (b *Bucket) List(ctx context.Context, prefix, startAfter string) iter.Seq2[objstore.ObjectInfo, error] {
	return func(yield func(objstore.ObjectInfo, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(objstore.ObjectInfo{}, err)
			return
		}
		b.s.mu.RLock()
		var infos []objstore.ObjectInfo
		for k, o := range b.s.objects {
			if strings.HasPrefix(k, prefix) && k > startAfter {
				infos = append(infos, objstore.ObjectInfo{Key: k, Size: int64(len(o.data)), ETag: o.etag, LastModified: o.modTime})
			}
		}
		b.s.mu.RUnlock()
		slices.SortFunc(infos, func(a, b objstore.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
		for _, info := range infos {
			if err := ctx.Err(); err != nil {
				yield(objstore.ObjectInfo{}, err)
				return
			}
			if !yield(info, nil) {
				return
			}
		}
	}
}

// put stores data under key if cond, called with the current object (and
// whether it exists), returns nil.
func (b *Bucket) put(ctx context.Context, key string, data []byte, cond func(object, bool) error) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := objstore.ValidateKey(key); err != nil {
		return "", err
	}
	o := object{data: bytes.Clone(data), etag: etagOf(data), modTime: time.Now()}
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	if cond != nil {
		cur, ok := b.s.objects[key]
		if err := cond(cur, ok); err != nil {
			return "", fmt.Errorf("mem put %s: %w", key, err)
		}
	}
	b.s.objects[key] = o
	return o.etag, nil
}

// Put implements objstore.Bucket.
func (b *Bucket) Put(ctx context.Context, key string, data []byte) (string, error) {
	return b.put(ctx, key, data, nil)
}

// PutIfAbsent implements objstore.Bucket.
func (b *Bucket) PutIfAbsent(ctx context.Context, key string, data []byte) (string, error) {
	return b.put(ctx, key, data, func(_ object, exists bool) error {
		if exists {
			return objstore.ErrExists
		}
		return nil
	})
}

// PutIfMatch implements objstore.Bucket.
func (b *Bucket) PutIfMatch(ctx context.Context, key string, data []byte, etag string) (string, error) {
	return b.put(ctx, key, data, func(cur object, exists bool) error {
		if !exists || cur.etag != etag {
			return objstore.ErrPreconditionFailed
		}
		return nil
	})
}

// Delete implements objstore.Bucket.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := objstore.ValidateKey(key); err != nil {
		return err
	}
	b.s.mu.Lock()
	delete(b.s.objects, key)
	b.s.mu.Unlock()
	return nil
}
