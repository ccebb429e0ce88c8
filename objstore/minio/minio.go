// Package minio is the objstore driver for MinIO and other S3-compatible
// servers, built on minio-go. Importing it registers the "minio" URL scheme:
//
//	objstore.Open(ctx, "minio://bucket/prefix", objstore.Config{Endpoint: "http://127.0.0.1:9000"})
//
// It speaks the same protocol as the s3 driver through a different client
// library; silt keeps both because S3-compatible servers differ in what
// they accept, and a second client is the cheapest way to find out which
// side is at fault.
//
// Every put is a single PUT request (minio-go's Core API), never a
// multipart upload. minio-go's high-level PutObject switches to multipart
// above 16 MiB, and If-None-Match and If-Match then travel on
// CompleteMultipartUpload, which AWS honours but many S3-compatible servers
// ignore; a single PUT up to S3's 5 GiB limit is also one request instead
// of several for silt's 8–64 MiB segments.
//
// minio-go retries throttling, 5xx and transport errors itself, up to
// Config.MaxAttempts attempts with jittered exponential backoff. It does not
// retry 409 ConditionalRequestConflict (AWS S3's answer while another
// conditional write to the key is in flight), and its list of retryable
// codes cannot be extended, so this driver retries that one code itself.
package minio

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/silt-io/silt/internal/backoff"
	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/objstore/internal/httprange"
)

func init() {
	objstore.Register("minio", open)
}

// Bucket is an objstore.Bucket on one bucket of an S3-compatible server.
// It is safe for concurrent use. Obtain one with
// objstore.Open("minio://bucket", cfg) or New.
type Bucket struct {
	core        minio.Core
	bucket      string
	secure      bool // TLS: the payload need not be hashed for the signature
	maxAttempts int
	transport   *http.Transport // owned; Close drops its idle connections
}

var _ objstore.Bucket = (*Bucket)(nil)

func open(ctx context.Context, loc objstore.Location, cfg objstore.Config) (objstore.Bucket, error) {
	return New(ctx, loc.Bucket, cfg)
}

// New opens bucket with cfg, which should already carry its defaults
// (objstore.Config.WithDefaults; objstore.Open applies them). It makes no
// request: a wrong bucket or unreachable endpoint shows on first use.
//
// cfg.Endpoint is a URL: "http://host:port" is plain HTTP, "https://…"
// TLS, and both use path-style addressing. Empty means AWS S3 itself
// (s3.amazonaws.com over TLS, virtual-host addressing). Credentials are
// cfg's static ones if set, else the first found of:
// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, MINIO_ROOT_USER/
// MINIO_ROOT_PASSWORD (and the older MINIO_ACCESS_KEY pair),
// ~/.aws/credentials, and IAM (EC2/ECS/EKS).
func New(ctx context.Context, bucket string, cfg objstore.Config) (*Bucket, error) {
	if bucket == "" {
		return nil, errors.New("minio: empty bucket name")
	}
	host, secure, lookup, err := parseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	maxAttempts := cfg.MaxAttempts
	if maxAttempts < 1 {
		maxAttempts = 1
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = 256
	transport.MaxIdleConnsPerHost = 128 // net/http keeps 2 by default
	transport.DisableCompression = true // sizes and ranges are of the stored bytes
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.EnvMinio{},
		&credentials.FileAWSCredentials{},
		&credentials.IAM{},
	})
	if cfg.AccessKey != "" && cfg.SecretKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	}
	client, err := minio.New(host, &minio.Options{
		Creds:        creds,
		Secure:       secure,
		Transport:    transport,
		Region:       cfg.Region, // also spares a GetBucketLocation per bucket
		BucketLookup: lookup,
		MaxRetries:   maxAttempts, // minio-go counts attempts, not retries
	})
	if err != nil {
		return nil, fmt.Errorf("minio: client for %s: %w", host, err)
	}
	return &Bucket{core: minio.Core{Client: client}, bucket: bucket, secure: secure, maxAttempts: maxAttempts, transport: transport}, nil
}

// parseEndpoint turns objstore.Config.Endpoint into minio-go's host, TLS
// flag and addressing style.
func parseEndpoint(endpoint string) (host string, secure bool, lookup minio.BucketLookupType, err error) {
	if endpoint == "" {
		return "s3.amazonaws.com", true, minio.BucketLookupAuto, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", false, 0, fmt.Errorf("minio: endpoint %q: %w", endpoint, err)
	}
	switch u.Scheme {
	case "http":
	case "https":
		secure = true
	default:
		return "", false, 0, fmt.Errorf("minio: endpoint %q: want http://host[:port] or https://host[:port]", endpoint)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", false, 0, fmt.Errorf("minio: endpoint %q: want just a scheme, host and port", endpoint)
	}
	return u.Host, secure, minio.BucketLookupPath, nil
}

// Name returns "minio://bucket".
func (b *Bucket) Name() string { return "minio://" + b.bucket }

// Close releases idle connections. The Bucket must not be used afterwards.
func (b *Bucket) Close() error {
	b.transport.CloseIdleConnections()
	return nil
}

// Get returns the whole object.
func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := objstore.ValidateKey(key); err != nil {
		return nil, err
	}
	body, _, _, err := b.core.GetObject(ctx, b.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, mapError(ctx, opGet, key, err)
	}
	return body, nil
}

// GetRange returns length bytes from off; see objstore.Reader. A length of
// 0 returns an empty reader without a request.
func (b *Bucket) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := objstore.ValidateKey(key); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("minio get range %q: %w: negative offset %d", key, objstore.ErrInvalidRange, off)
	}
	if length == 0 {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	var opts minio.GetObjectOptions
	opts.Set("Range", httprange.Header(off, length))
	body, _, header, err := b.core.GetObject(ctx, b.bucket, key, opts)
	if err != nil {
		return nil, mapError(ctx, opGetRange, key, err)
	}
	size := int64(-1)
	if n, err := strconv.ParseInt(header.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
		size = n
	}
	rc, err := httprange.Check(body, header.Get("Content-Range"), size, off, length)
	if err != nil {
		return nil, fmt.Errorf("minio get range %q: %w", key, err)
	}
	return rc, nil
}

// Head returns the object's key, size, ETag and modification time.
func (b *Bucket) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if err := objstore.ValidateKey(key); err != nil {
		return objstore.ObjectInfo{}, err
	}
	info, err := b.core.StatObject(ctx, b.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return objstore.ObjectInfo{}, mapError(ctx, opHead, key, err)
	}
	return objstore.ObjectInfo{
		Key:          key,
		Size:         info.Size,
		ETag:         unquote(info.ETag),
		LastModified: info.LastModified,
	}, nil
}

// Put writes the object unconditionally.
func (b *Bucket) Put(ctx context.Context, key string, data []byte) (string, error) {
	return b.put(ctx, opPut, key, data, minio.PutObjectOptions{})
}

// PutIfAbsent writes the object with If-None-Match: *; 412 is ErrExists.
func (b *Bucket) PutIfAbsent(ctx context.Context, key string, data []byte) (string, error) {
	var opts minio.PutObjectOptions
	opts.SetMatchETagExcept("*")
	return b.put(ctx, opPutIfAbsent, key, data, opts)
}

// PutIfMatch writes the object with If-Match: "etag"; 412, and 404 for a
// missing key, are ErrPreconditionFailed.
func (b *Bucket) PutIfMatch(ctx context.Context, key string, data []byte, etag string) (string, error) {
	etag = unquote(etag)
	if etag == "" || etag == "*" { // "*" would match any object, not one version
		if err := objstore.ValidateKey(key); err != nil {
			return "", err
		}
		return "", fmt.Errorf("minio put-if-match %q: %w: etag %q", key, objstore.ErrPreconditionFailed, etag)
	}
	var opts minio.PutObjectOptions
	opts.SetMatchETag(etag) // quotes it
	return b.put(ctx, opPutIfMatch, key, data, opts)
}

// put sends one PUT, repeating it on ConditionalRequestConflict: the only
// retry loop of this driver, for the one code minio-go will not retry.
//
// Core.PutObject is a single PUT whatever the size, and a bytes.Reader is
// seekable, so minio-go can rewind it for its own retries. Over plain HTTP
// minio-go would sign the body in chunks (streaming SigV4), which versitygw
// v1.8.0 mishandles for an empty body: it leaves the final chunk unread on
// a kept-alive connection and answers it as a malformed next request (400
// BadRequest). So streaming is off, and over plain HTTP the body's SHA-256
// is signed instead, as aws-sdk-go-v2 does; over TLS the payload is left
// unsigned (UNSIGNED-PAYLOAD), TLS protecting it.
func (b *Bucket) put(ctx context.Context, op op, key string, data []byte, opts minio.PutObjectOptions) (string, error) {
	if err := objstore.ValidateKey(key); err != nil {
		return "", err
	}
	opts.DisableContentSha256 = true
	var sha string
	if !b.secure {
		sum := sha256.Sum256(data)
		sha = hex.EncodeToString(sum[:])
	}
	// The conflicting write is usually done within one round trip: start
	// short.
	retry := backoff.New(100*time.Millisecond, 2*time.Second)
	for attempt := 1; ; attempt++ {
		info, err := b.core.PutObject(ctx, b.bucket, key, bytes.NewReader(data), int64(len(data)), "", sha, opts)
		if err == nil {
			return unquote(info.ETag), nil
		}
		if !isConditionalConflict(err) || attempt >= b.maxAttempts {
			return "", mapError(ctx, op, key, err)
		}
		if err := retry.Wait(ctx); err != nil {
			return "", mapError(ctx, op, key, err)
		}
	}
}

// Delete removes the object; a missing key is not an error.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := objstore.ValidateKey(key); err != nil {
		return err
	}
	err := b.core.RemoveObject(ctx, b.bucket, key, minio.RemoveObjectOptions{})
	if err != nil {
		if err := mapError(ctx, opDelete, key, err); !errors.Is(err, objstore.ErrNotFound) {
			return err
		}
	}
	return nil
}

// List yields the objects under prefix after startAfter, paging with
// ListObjectsV2.
//
// minio-go's iterator ends silently when ctx is cancelled mid-listing, and
// does not notice a server repeating a page; a listing cut short without an
// error would make the journal believe it had seen every entry. So List
// reports a cancelled ctx as an error, and requires every key to sort
// strictly after the one before.
func (b *Bucket) List(ctx context.Context, prefix, startAfter string) iter.Seq2[objstore.ObjectInfo, error] {
	return func(yield func(objstore.ObjectInfo, error) bool) {
		// The iterator holds no goroutine, but cancelling tells minio-go we
		// stopped early, as its documentation asks.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		fetchOwner := false
		last := startAfter
		for o := range b.core.ListObjectsIter(ctx, b.bucket, minio.ListObjectsOptions{
			Prefix:     prefix,
			StartAfter: startAfter,
			Recursive:  true,
			FetchOwner: &fetchOwner,
		}) {
			if o.Err != nil {
				yield(objstore.ObjectInfo{}, mapError(ctx, opList, prefix, o.Err))
				return
			}
			if o.Key <= last || !strings.HasPrefix(o.Key, prefix) {
				yield(objstore.ObjectInfo{}, fmt.Errorf("minio list %q: server returned %q after %q: out of order or outside the prefix", prefix, o.Key, last))
				return
			}
			last = o.Key
			info := objstore.ObjectInfo{
				Key:          o.Key,
				Size:         o.Size,
				ETag:         unquote(o.ETag),
				LastModified: o.LastModified,
			}
			if !yield(info, nil) {
				return
			}
		}
		if err := ctx.Err(); err != nil {
			yield(objstore.ObjectInfo{}, fmt.Errorf("minio list %q: %w", prefix, err))
		}
	}
}

// unquote strips the double quotes S3 puts around ETags (minio-go mostly
// does so already).
func unquote(etag string) string {
	if len(etag) >= 2 && etag[0] == '"' && etag[len(etag)-1] == '"' {
		return etag[1 : len(etag)-1]
	}
	return etag
}

// RequestPrices returns S3's list prices (objstore.Priced): the agent
// writes within a budget of PUTs.
func (b *Bucket) RequestPrices() objstore.Prices { return objstore.S3ListPrices }
