// Package s3 is the objstore driver for Amazon S3 and S3-compatible servers,
// built on aws-sdk-go-v2. Importing it registers the "s3" URL scheme:
//
//	objstore.Open(ctx, "s3://bucket/prefix", objstore.Config{})
//
// Credentials come from objstore.Config when it has them, else from the
// SDK's default chain (environment, shared files, SSO, IMDS…); the region, endpoint and retry budget from
// objstore.Config. Whenever an endpoint is given, path-style addressing is
// used, which every S3-compatible server understands.
//
// Retries are the SDK's standard retryer (exponential backoff with full
// jitter) bounded by Config.MaxAttempts, plus one code the SDK does not
// retry by default: 409 ConditionalRequestConflict, which AWS S3 returns
// when another conditional write to the same key is in flight. Repeating the
// identical request is then correct: it either wins or meets 412.
//
// Conditional puts that time out or fail with 5xx after retries are
// ambiguous (the write may have landed, and a retry may then see 412 for the
// caller's own object). This driver reports what it saw; the journal
// resolves the ambiguity by reading the key back (see objstore's contract).
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/objstore/internal/httprange"
)

func init() {
	objstore.Register("s3", open)
}

// Bucket is an objstore.Bucket on one S3 bucket. It is safe for concurrent
// use. Obtain one with objstore.Open("s3://bucket", cfg) or New.
type Bucket struct {
	client    *s3.Client
	bucket    string
	transport *http.Transport // owned; Close drops its idle connections
}

var _ objstore.Bucket = (*Bucket)(nil)

func open(ctx context.Context, loc objstore.Location, cfg objstore.Config) (objstore.Bucket, error) {
	return New(ctx, loc.Bucket, cfg)
}

// New opens bucket with cfg, which should already carry its defaults
// (objstore.Config.WithDefaults; objstore.Open applies them). It makes no
// request: a wrong bucket or unreachable endpoint shows on first use, so an
// agent can start while its store is briefly down.
func New(ctx context.Context, bucket string, cfg objstore.Config) (*Bucket, error) {
	if bucket == "" {
		return nil, errors.New("s3: empty bucket name")
	}
	maxAttempts := cfg.MaxAttempts
	if maxAttempts < 1 {
		maxAttempts = 1
	}
	// The SDK's buildable client, so LoadDefaultConfig can apply what the
	// environment asks of it (AWS_CA_BUNDLE…), with room for the many
	// parallel requests of one agent to one endpoint.
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns = 256
		tr.MaxIdleConnsPerHost = 128
		tr.DisableCompression = true // sizes and ranges are of the stored bytes
	})
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer { return newRetryer(maxAttempts) }),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKey != "" && cfg.SecretKey != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS config: %w", err)
	}
	// Then a transport of our own built from it, so Close can release its
	// connections; like the SDK's client, it does not follow redirects.
	bc, ok := awsCfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		return nil, fmt.Errorf("s3: unexpected HTTP client %T in the AWS config", awsCfg.HTTPClient)
	}
	transport := bc.GetTransport()
	awsCfg.HTTPClient = &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			o.UsePathStyle = true
		}
		// The SDK's default sends and demands the newer CRC checksums, which
		// many S3-compatible servers reject or omit; send them only when an
		// API requires them. Bodies stay protected in transit: over plain
		// HTTP the SDK signs the payload's SHA-256, over TLS, TLS does.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &Bucket{client: client, bucket: bucket, transport: transport}, nil
}

// newRetryer is the SDK's standard retryer (exponential backoff with full
// jitter) with ConditionalRequestConflict added and without the client-side
// retry quota. The quota is one token bucket for every request of the
// client: a burst of failures on one path (a run of connection resets on
// large uploads) drains it, and then every other request fails on its first
// transient error, journal commits included. MaxAttempts and the backoff
// already bound the load one request adds.
func newRetryer(maxAttempts int) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.RateLimiter = ratelimit.None
		o.Retryables = append(o.Retryables, retry.RetryableErrorCode{
			Codes: map[string]struct{}{codeConditionalConflict: {}},
		})
	})
}

// Name returns "s3://bucket".
func (b *Bucket) Name() string { return "s3://" + b.bucket }

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
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(b.bucket),
		Key:    aws.String(key),
	})
	if err != nil {
		return nil, mapError(ctx, opGet, key, err)
	}
	return out.Body, nil
}

// GetRange returns length bytes from off; see objstore.Reader. A length of
// 0 returns an empty reader without a request.
func (b *Bucket) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := objstore.ValidateKey(key); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("s3 get range %q: %w: negative offset %d", key, objstore.ErrInvalidRange, off)
	}
	if length == 0 {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(b.bucket),
		Key:    aws.String(key),
		Range:  aws.String(httprange.Header(off, length)),
	})
	if err != nil {
		return nil, mapError(ctx, opGetRange, key, err)
	}
	size := int64(-1)
	if out.ContentLength != nil {
		size = *out.ContentLength
	}
	rc, err := httprange.Check(out.Body, aws.ToString(out.ContentRange), size, off, length)
	if err != nil {
		return nil, fmt.Errorf("s3 get range %q: %w", key, err)
	}
	return rc, nil
}

// Head returns the object's key, size, ETag and modification time.
func (b *Bucket) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if err := objstore.ValidateKey(key); err != nil {
		return objstore.ObjectInfo{}, err
	}
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(b.bucket),
		Key:    aws.String(key),
	})
	if err != nil {
		return objstore.ObjectInfo{}, mapError(ctx, opHead, key, err)
	}
	return objstore.ObjectInfo{
		Key:          key,
		Size:         aws.ToInt64(out.ContentLength),
		ETag:         unquote(aws.ToString(out.ETag)),
		LastModified: aws.ToTime(out.LastModified),
	}, nil
}

// Put writes the object unconditionally.
func (b *Bucket) Put(ctx context.Context, key string, data []byte) (string, error) {
	return b.put(ctx, opPut, key, data, nil, nil)
}

// PutIfAbsent writes the object with If-None-Match: *; 412 is ErrExists.
func (b *Bucket) PutIfAbsent(ctx context.Context, key string, data []byte) (string, error) {
	return b.put(ctx, opPutIfAbsent, key, data, aws.String("*"), nil)
}

// PutIfMatch writes the object with If-Match: "etag"; 412, and 404 for a
// missing key, are ErrPreconditionFailed.
func (b *Bucket) PutIfMatch(ctx context.Context, key string, data []byte, etag string) (string, error) {
	etag = unquote(etag)
	if etag == "" {
		if err := objstore.ValidateKey(key); err != nil {
			return "", err
		}
		return "", fmt.Errorf("s3 put-if-match %q: %w: empty etag", key, objstore.ErrPreconditionFailed)
	}
	return b.put(ctx, opPutIfMatch, key, data, nil, aws.String(`"`+etag+`"`))
}

func (b *Bucket) put(ctx context.Context, op op, key string, data []byte, ifNoneMatch, ifMatch *string) (string, error) {
	if err := objstore.ValidateKey(key); err != nil {
		return "", err
	}
	// A bytes.Reader is seekable, so the SDK can hash it for the signature
	// and rewind it for a retry without copying.
	out, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(b.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		IfNoneMatch:   ifNoneMatch,
		IfMatch:       ifMatch,
	})
	if err != nil {
		return "", mapError(ctx, op, key, err)
	}
	return unquote(aws.ToString(out.ETag)), nil
}

// Delete removes the object; a missing key is not an error.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := objstore.ValidateKey(key); err != nil {
		return err
	}
	_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(b.bucket),
		Key:    aws.String(key),
	})
	if err != nil {
		if err := mapError(ctx, opDelete, key, err); !errors.Is(err, objstore.ErrNotFound) {
			return err
		}
	}
	return nil
}

// List yields the objects under prefix after startAfter, 1000 per request.
//
// It pages by hand rather than with the SDK paginator, whose only guard
// against a server repeating a continuation token is to stop silently: a
// listing cut short without an error would make the journal believe it had
// seen every entry. Instead every key must sort strictly after the one
// before, and a server breaking that, or truncating without a token, ends
// the iteration with an error.
func (b *Bucket) List(ctx context.Context, prefix, startAfter string) iter.Seq2[objstore.ObjectInfo, error] {
	return func(yield func(objstore.ObjectInfo, error) bool) {
		in := &s3.ListObjectsV2Input{Bucket: aws.String(b.bucket)}
		if prefix != "" {
			in.Prefix = aws.String(prefix)
		}
		if startAfter != "" {
			in.StartAfter = aws.String(startAfter)
		}
		last := startAfter
		for page := 1; ; page++ {
			out, err := b.client.ListObjectsV2(ctx, in)
			if err != nil {
				yield(objstore.ObjectInfo{}, mapError(ctx, opList, prefix, err))
				return
			}
			for _, o := range out.Contents {
				key := aws.ToString(o.Key)
				if key <= last || !strings.HasPrefix(key, prefix) {
					yield(objstore.ObjectInfo{}, fmt.Errorf("s3 list %q: server returned %q after %q on page %d: out of order or outside the prefix", prefix, key, last, page))
					return
				}
				last = key
				info := objstore.ObjectInfo{
					Key:          key,
					Size:         aws.ToInt64(o.Size),
					ETag:         unquote(aws.ToString(o.ETag)),
					LastModified: aws.ToTime(o.LastModified),
				}
				if !yield(info, nil) {
					return
				}
			}
			if !aws.ToBool(out.IsTruncated) {
				return
			}
			next := aws.ToString(out.NextContinuationToken)
			if next == "" {
				yield(objstore.ObjectInfo{}, fmt.Errorf("s3 list %q: page %d is truncated but has no continuation token", prefix, page))
				return
			}
			in.ContinuationToken = aws.String(next)
		}
	}
}

// unquote strips the double quotes S3 puts around ETags.
func unquote(etag string) string {
	if len(etag) >= 2 && etag[0] == '"' && etag[len(etag)-1] == '"' {
		return etag[1 : len(etag)-1]
	}
	return etag
}

// RequestPrices returns S3's list prices (objstore.Priced): the agent
// writes within a budget of PUTs.
func (b *Bucket) RequestPrices() objstore.Prices { return objstore.S3ListPrices }
