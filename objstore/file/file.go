// Package file is the objstore driver for a local directory: silt's embedded
// default (`silt agent` stores into ./silt-data) and a store several agents
// on one host can share.
//
// Each object is a file at <root>/<key>. Every put writes a temporary file in
// <root>/.silt-tmp, fsyncs it, and then moves it into place, so readers see
// the old object or the new one, never a part:
//
//   - Put renames the temporary file over the key.
//   - PutIfAbsent hard-links it to the key; link(2) fails with EEXIST if the
//     name exists, which makes the check and the write one atomic step even
//     between separate processes.
//   - PutIfMatch compares the current content's hash with the ETag and renames,
//     holding an flock(2) on one of 256 lock files chosen by the key's hash,
//     which every mutation of that key also holds.
//
// After a rename or link the parent directory is fsynced, so a put that
// returned survives a power cut. ETags are the hex XXH3-128 of the content:
// like S3's MD5 they change whenever the content does, and they cost a
// twentieth of MD5's CPU, which every segment written pays.
//
// A key cannot also be a directory of other keys ("a" and "a/b"), which
// silt's layout never needs. Empty directories are left in place.
package file

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/zeebo/xxh3"

	"github.com/silt-io/silt/objstore"
)

func init() {
	objstore.Register("file", func(_ context.Context, loc objstore.Location, _ objstore.Config) (objstore.Bucket, error) {
		return Open(loc.Bucket)
	})
}

// internalDir holds temporary and lock files; keys may not begin with it.
const internalDir = ".silt-tmp"

// staleTemp is how old an orphaned temporary file (left by a crash) must be
// before Open removes it.
const staleTemp = time.Hour

// Bucket is a directory used as an objstore.Bucket.
type Bucket struct {
	root string
}

// Open returns a bucket rooted at dir, creating the directory if needed.
func Open(dir string) (*Bucket, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("file bucket %s: %w", dir, err)
	}
	for _, d := range []string{root, filepath.Join(root, internalDir), filepath.Join(root, internalDir, "locks")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("file bucket %s: %w", dir, err)
		}
	}
	b := &Bucket{root: root}
	b.removeStaleTemps()
	return b, nil
}

func (b *Bucket) removeStaleTemps() {
	entries, _ := os.ReadDir(filepath.Join(b.root, internalDir))
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "put-") {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTemp {
			os.Remove(filepath.Join(b.root, internalDir, e.Name()))
		}
	}
}

// Name implements objstore.Bucket.
func (b *Bucket) Name() string { return "file://" + b.root }

// Close implements objstore.Bucket.
func (b *Bucket) Close() error { return nil }

func (b *Bucket) path(key string) (string, error) {
	if err := objstore.ValidateKey(key); err != nil {
		return "", err
	}
	if key == internalDir || strings.HasPrefix(key, internalDir+"/") {
		return "", fmt.Errorf("%w: %q is reserved by the file driver", objstore.ErrInvalidKey, key)
	}
	return filepath.Join(b.root, filepath.FromSlash(key)), nil
}

func notFound(op, key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("file %s %s: %w: %w", op, key, objstore.ErrNotFound, err)
	}
	return fmt.Errorf("file %s %s: %w", op, key, err)
}

func (b *Bucket) open(ctx context.Context, key string) (*os.File, os.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	p, err := b.path(key)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, notFound("get", key, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, notFound("get", key, err)
	}
	if info.IsDir() {
		f.Close()
		return nil, nil, notFound("get", key, syscall.EISDIR)
	}
	return f, info, nil
}

// Get implements objstore.Bucket.
func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	f, _, err := b.open(ctx, key)
	if err != nil {
		return nil, err
	}
	return &ctxReader{ctx: ctx, r: f, c: f}, nil
}

// GetRange implements objstore.Bucket.
func (b *Bucket) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	f, info, err := b.open(ctx, key)
	if err != nil {
		return nil, err
	}
	size := info.Size()
	if off < 0 || off >= size {
		f.Close()
		return nil, fmt.Errorf("file get %s range %d+%d of %d: %w", key, off, length, size, objstore.ErrInvalidRange)
	}
	if length < 0 || off+length > size {
		length = size - off
	}
	return &ctxReader{ctx: ctx, r: io.NewSectionReader(f, off, length), c: f}, nil
}

// Head implements objstore.Bucket. It reads the object to hash it.
func (b *Bucket) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	f, info, err := b.open(ctx, key)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	defer f.Close()
	etag, err := hashReader(f)
	if err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("file head %s: %w", key, err)
	}
	return objstore.ObjectInfo{Key: key, Size: info.Size(), ETag: etag, LastModified: info.ModTime()}, nil
}

func hashReader(r io.Reader) (string, error) {
	h := xxh3.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	sum := h.Sum128().Bytes()
	return hex.EncodeToString(sum[:]), nil
}

func etagOf(data []byte) string {
	sum := xxh3.Hash128(data).Bytes()
	return hex.EncodeToString(sum[:])
}

// List implements objstore.Bucket. It walks the deepest directory that
// contains every key with the prefix, then sorts: a directory walk alone
// does not give S3's byte order ("a-c" sorts before "a/b").
func (b *Bucket) List(ctx context.Context, prefix, startAfter string) iter.Seq2[objstore.ObjectInfo, error] {
	return func(yield func(objstore.ObjectInfo, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(objstore.ObjectInfo{}, err)
			return
		}
		base := b.root
		if i := strings.LastIndex(prefix, "/"); i >= 0 {
			base = filepath.Join(b.root, filepath.FromSlash(prefix[:i]))
		}
		var infos []objstore.ObjectInfo
		err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			rel, _ := filepath.Rel(b.root, p)
			key := filepath.ToSlash(rel)
			if d.IsDir() {
				if key == internalDir {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasPrefix(key, prefix) || key <= startAfter {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // deleted while listing
				}
				return err
			}
			infos = append(infos, objstore.ObjectInfo{Key: key, Size: info.Size(), LastModified: info.ModTime()})
			return nil
		})
		if err != nil {
			yield(objstore.ObjectInfo{}, fmt.Errorf("file list %q: %w", prefix, err))
			return
		}
		slices.SortFunc(infos, func(a, b objstore.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
		for _, info := range infos {
			if err := ctx.Err(); err != nil {
				yield(objstore.ObjectInfo{}, err)
				return
			}
			// ETags are content hashes; computing them costs a read, so only
			// small objects get one here. Callers that need an ETag use Head.
			if info.Size <= 1<<20 {
				if data, err := os.ReadFile(filepath.Join(b.root, filepath.FromSlash(info.Key))); err == nil {
					info.ETag = etagOf(data)
				}
			}
			if !yield(info, nil) {
				return
			}
		}
	}
}

// writeTemp writes data to a new fsynced temporary file and returns its path.
func (b *Bucket) writeTemp(data []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Join(b.root, internalDir), "put-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	werr := writeSynced(f, data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(name)
		return "", werr
	}
	return name, nil
}

// syncEvery is how much of a large object is written before its
// write-back is started. Without it a merged object's tens of MiB reach the
// disk all at once in its final fsync, and every other fsync on the disk
// (the agent's own flushes, which producers wait for) queues behind them;
// written back as it is written, the final fsync has little left to do (as
// RocksDB's bytes_per_sync does).
const syncEvery = 1 << 20

// writeSynced writes data to f, starting the write-back of each syncEvery
// bytes as it goes and waiting for the one before, so that little is dirty
// at any time.
func writeSynced(f *os.File, data []byte) error {
	if len(data) <= 2*syncEvery {
		_, err := f.Write(data)
		return err
	}
	var off int64
	for len(data) > 0 {
		n := min(len(data), syncEvery)
		if _, err := f.Write(data[:n]); err != nil {
			return err
		}
		startWriteback(f, off, int64(n))
		if off >= syncEvery {
			waitWriteback(f, off-syncEvery, syncEvery)
		}
		off += int64(n)
		data = data[n:]
	}
	return nil
}

// lock takes the flock guarding key's stripe. Flocks belong to open file
// descriptions, so they exclude other goroutines of this process as well as
// other processes.
func (b *Bucket) lock(key string) (unlock func(), err error) {
	h := fnv.New32a()
	h.Write([]byte(key))
	p := filepath.Join(b.root, internalDir, "locks", fmt.Sprintf("%02x", h.Sum32()&0xff))
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil // closing the descriptor releases the lock
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// put writes data to key, calling place (with the lock held) to move the
// temporary file into position.
func (b *Bucket) put(ctx context.Context, op, key string, data []byte, place func(tmp, dst string) error) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	dst, err := b.path(key)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("file %s %s: %w", op, key, err)
	}
	tmp, err := b.writeTemp(data)
	if err != nil {
		return "", fmt.Errorf("file %s %s: %w", op, key, err)
	}
	defer os.Remove(tmp) // a no-op after a successful rename
	unlock, err := b.lock(key)
	if err != nil {
		return "", fmt.Errorf("file %s %s: lock: %w", op, key, err)
	}
	defer unlock()
	if err := place(tmp, dst); err != nil {
		return "", fmt.Errorf("file %s %s: %w", op, key, err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return "", fmt.Errorf("file %s %s: sync directory: %w", op, key, err)
	}
	return etagOf(data), nil
}

// Put implements objstore.Bucket.
func (b *Bucket) Put(ctx context.Context, key string, data []byte) (string, error) {
	return b.put(ctx, "put", key, data, os.Rename)
}

// PutIfAbsent implements objstore.Bucket.
func (b *Bucket) PutIfAbsent(ctx context.Context, key string, data []byte) (string, error) {
	return b.put(ctx, "put-if-absent", key, data, func(tmp, dst string) error {
		if err := os.Link(tmp, dst); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%w: %w", objstore.ErrExists, err)
			}
			return err
		}
		return nil
	})
}

// PutIfMatch implements objstore.Bucket.
func (b *Bucket) PutIfMatch(ctx context.Context, key string, data []byte, etag string) (string, error) {
	return b.put(ctx, "put-if-match", key, data, func(tmp, dst string) error {
		f, err := os.Open(dst)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%w: %w", objstore.ErrPreconditionFailed, err)
			}
			return err
		}
		cur, err := hashReader(f)
		f.Close()
		if err != nil {
			return err
		}
		if cur != etag {
			return fmt.Errorf("%w: ETag is %s, not %s", objstore.ErrPreconditionFailed, cur, etag)
		}
		return os.Rename(tmp, dst)
	})
}

// Delete implements objstore.Bucket.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := b.path(key)
	if err != nil {
		return err
	}
	unlock, err := b.lock(key)
	if err != nil {
		return fmt.Errorf("file delete %s: lock: %w", key, err)
	}
	defer unlock()
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("file delete %s: %w", key, err)
	}
	return nil
}

// ctxReader stops reading once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
	c   io.Closer
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

func (r *ctxReader) Close() error { return r.c.Close() }
