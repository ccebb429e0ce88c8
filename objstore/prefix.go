package objstore

import (
	"context"
	"io"
	"iter"
	"strings"
)

// WithPrefix returns a Bucket that stores every key under prefix + "/", so
// several clusters (or tests) can share one bucket. The prefix is invisible
// to the caller: List yields keys without it.
func WithPrefix(b Bucket, prefix string) Bucket {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return b
	}
	return &prefixed{b: b, p: prefix + "/"}
}

type prefixed struct {
	b Bucket
	p string
}

func (p *prefixed) Name() string { return p.b.Name() + "/" + strings.TrimSuffix(p.p, "/") }
func (p *prefixed) Close() error { return p.b.Close() }

func (p *prefixed) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	return p.b.Get(ctx, p.p+key)
}

func (p *prefixed) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	return p.b.GetRange(ctx, p.p+key, off, length)
}

func (p *prefixed) Head(ctx context.Context, key string) (ObjectInfo, error) {
	info, err := p.b.Head(ctx, p.p+key)
	info.Key = strings.TrimPrefix(info.Key, p.p)
	return info, err
}

func (p *prefixed) List(ctx context.Context, prefix, startAfter string) iter.Seq2[ObjectInfo, error] {
	if startAfter != "" {
		startAfter = p.p + startAfter
	}
	return func(yield func(ObjectInfo, error) bool) {
		for info, err := range p.b.List(ctx, p.p+prefix, startAfter) {
			info.Key = strings.TrimPrefix(info.Key, p.p)
			if !yield(info, err) {
				return
			}
		}
	}
}

func (p *prefixed) Put(ctx context.Context, key string, data []byte) (string, error) {
	return p.b.Put(ctx, p.p+key, data)
}

func (p *prefixed) PutIfAbsent(ctx context.Context, key string, data []byte) (string, error) {
	return p.b.PutIfAbsent(ctx, p.p+key, data)
}

func (p *prefixed) PutIfMatch(ctx context.Context, key string, data []byte, etag string) (string, error) {
	return p.b.PutIfMatch(ctx, p.p+key, data, etag)
}

func (p *prefixed) Delete(ctx context.Context, key string) error {
	return p.b.Delete(ctx, p.p+key)
}

// Unwrap returns the bucket p stores into (see Wrapper).
func (p *prefixed) Unwrap() Bucket { return p.b }
