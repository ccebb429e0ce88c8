// Package objstore is silt's only durable storage: a small interface over an
// object store, with drivers for S3 (aws-sdk-go-v2), any S3-compatible server
// (minio-go), a local directory and memory.
//
// Everything silt keeps — journal entries, snapshots, segments, Parquet
// exports — is an object in one Bucket. The interface is deliberately small
// (in the spirit of thanos-io/objstore) but adds the two operations silt's
// correctness rests on: PutIfAbsent, which decides who writes journal entry n,
// and PutIfMatch, a compare-and-swap on an object's ETag.
//
// # Contract
//
// Every driver passes the conformance suite in objstore/objstoretest, which
// checks each clause below as a subtest.
//
//   - Consistency is read-after-write: once a put returns nil, every Get,
//     Head and List from any process sees the new object.
//   - Puts are atomic: a reader sees the old bytes or the new bytes, never a
//     mix or a partial object.
//   - PutIfAbsent succeeds for exactly one of any number of concurrent
//     callers on one key; the others get ErrExists.
//   - PutIfMatch succeeds for exactly one of any number of concurrent
//     callers presenting the same ETag; the others get ErrPreconditionFailed.
//     A missing object also fails with ErrPreconditionFailed.
//   - An ETag changes whenever the content changes. Drivers return it without
//     surrounding quotes.
//   - Errors are classified with errors.Is against the sentinels below; the
//     provider's own error stays wrapped beneath for the message.
//   - Every call honours its context: a cancelled context returns promptly
//     with an error that wraps ctx.Err().
//   - Delete of a missing key succeeds, as on S3.
//
// An ambiguous failure (timeout, reset, 5xx after retries) of a conditional
// put may hide a success. Callers that must know (the journal) read the key
// back and recognise their own bytes; see the journal package.
//
// Keys are slash-separated paths without a leading slash. Prefixes, request
// counting and fault injection are decorators (WithPrefix, WithMetrics and
// objstore/objstorefault) that wrap any driver, so drivers stay small.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"
)

// Sentinel errors returned (wrapped) by every driver. Test them with errors.Is.
var (
	// ErrNotFound is returned by Get, GetRange and Head when the key does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrExists is returned by PutIfAbsent when the key already exists.
	ErrExists = errors.New("object already exists")
	// ErrPreconditionFailed is returned by PutIfMatch when the object is
	// missing or its ETag is not the one given.
	ErrPreconditionFailed = errors.New("object precondition failed")
	// ErrInvalidRange is returned by GetRange when the offset is at or past
	// the end of the object.
	ErrInvalidRange = errors.New("invalid object range")
	// ErrInvalidKey is returned for keys a driver cannot store (empty,
	// leading slash, "." or ".." components).
	ErrInvalidKey = errors.New("invalid object key")
)

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key          string
	Size         int64
	ETag         string // unquoted; changes whenever the content changes
	LastModified time.Time
}

// Reader is the read half of a Bucket.
type Reader interface {
	// Get returns the whole object. The caller closes the reader.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// GetRange returns length bytes from offset off. A length < 0 reads to
	// the end; a range running past the end is cut short there, as HTTP
	// ranges are. An offset at or past the end is ErrInvalidRange.
	GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error)
	// Head returns the object's size and ETag without its body.
	Head(ctx context.Context, key string) (ObjectInfo, error)
	// List yields every object whose key starts with prefix and sorts after
	// startAfter (which may be empty), in lexicographic byte order of keys.
	// Drivers paginate internally; iteration stops at the first error.
	List(ctx context.Context, prefix, startAfter string) iter.Seq2[ObjectInfo, error]
}

// Writer is the write half of a Bucket. Bodies are byte slices: silt's objects
// are built in memory (a segment, a journal entry), and a slice can be
// re-sent by the SDKs' retryers without buffering it again.
type Writer interface {
	// Put writes the object, replacing any existing one, and returns its ETag.
	Put(ctx context.Context, key string, data []byte) (etag string, err error)
	// PutIfAbsent writes the object only if the key does not exist
	// (S3 If-None-Match: *). It returns ErrExists otherwise.
	PutIfAbsent(ctx context.Context, key string, data []byte) (etag string, err error)
	// PutIfMatch replaces the object only if its current ETag is etag
	// (S3 If-Match). It returns ErrPreconditionFailed otherwise.
	PutIfMatch(ctx context.Context, key string, data []byte, etag string) (newETag string, err error)
	// Delete removes the object. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Bucket is an object store as silt uses it. Implementations are safe for
// concurrent use.
type Bucket interface {
	Reader
	Writer
	// Name identifies the bucket in logs and metrics, e.g. "s3://b/prefix".
	Name() string
	// Close releases the driver's resources. It does not delete anything.
	Close() error
}

// ReadAll reads a whole object into memory.
func ReadAll(ctx context.Context, b Reader, key string) ([]byte, error) {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// ReadRange reads length bytes at off into memory. Unlike GetRange it fails
// with io.ErrUnexpectedEOF if the object is shorter than the range.
func ReadRange(ctx context.Context, b Reader, key string, off, length int64) ([]byte, error) {
	if length == 0 {
		return []byte{}, nil
	}
	rc, err := b.GetRange(ctx, key, off, length)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := make([]byte, length)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// ValidateKey reports whether key is one every driver can store: non-empty,
// no leading or trailing slash, no empty, "." or ".." path components.
// Drivers call it first so that all of them refuse the same keys.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	for part := range strings.SplitSeq(key, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("%w: %q", ErrInvalidKey, key)
		}
	}
	return nil
}
