package objstore

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Config carries what a driver needs beyond the bucket URL. The zero value
// is valid: every field falls back to the environment.
type Config struct {
	// Endpoint overrides the S3 endpoint (e.g. "http://127.0.0.1:7070").
	// Empty means SILT_S3_ENDPOINT, and if that is empty too, AWS itself.
	// Whenever an endpoint is given, path-style addressing is used.
	Endpoint string
	// Region defaults to AWS_REGION, then "us-east-1".
	Region string
	// AccessKey and SecretKey, if both set, are static credentials for the
	// S3 drivers; empty means the SDK's default chain (environment, shared
	// files, IAM). Tests that reach a local S3 server in process use them.
	AccessKey, SecretKey string
	// MaxAttempts bounds the SDK retryer per request (throttling and 5xx);
	// 0 means 5.
	MaxAttempts int
	// Metrics counts the bucket's requests; nil means a private counter
	// that nothing exports.
	Metrics *Metrics
}

// WithDefaults returns c with every empty field filled from the environment
// or silt's defaults. It does not modify c.
func (c Config) WithDefaults() Config {
	if c.Endpoint == "" {
		c.Endpoint = os.Getenv("SILT_S3_ENDPOINT")
	}
	if c.Region == "" {
		c.Region = os.Getenv("AWS_REGION")
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 5
	}
	return c
}

// Location is a parsed bucket URL.
type Location struct {
	Scheme string // "s3", "minio", "file" or "mem"
	Bucket string // bucket name; for file, the absolute directory
	Prefix string // key prefix inside the bucket, without surrounding slashes
}

// OpenFunc opens a driver at the root of a bucket. Open applies the prefix.
type OpenFunc func(ctx context.Context, loc Location, cfg Config) (Bucket, error)

var drivers = struct {
	sync.RWMutex
	m map[string]OpenFunc
}{m: map[string]OpenFunc{}}

// Register makes a driver available to Open under a URL scheme. Drivers call
// it from init; importing objstore/drivers registers all of silt's drivers.
func Register(scheme string, open OpenFunc) {
	drivers.Lock()
	defer drivers.Unlock()
	if _, dup := drivers.m[scheme]; dup {
		panic("objstore: driver registered twice for scheme " + scheme)
	}
	drivers.m[scheme] = open
}

// ParseURL splits a bucket URL into its parts. Accepted forms:
//
//	s3://bucket[/prefix]      aws-sdk-go-v2
//	minio://bucket[/prefix]   minio-go
//	file:///abs/dir           a local directory
//	./dir, /abs/dir           a local directory (a bare path)
//	mem://[name]              memory, for tests
func ParseURL(raw string) (Location, error) {
	if raw == "" {
		return Location{}, fmt.Errorf("empty bucket URL")
	}
	if !strings.Contains(raw, "://") {
		abs, err := filepath.Abs(raw)
		if err != nil {
			return Location{}, fmt.Errorf("bucket path %q: %w", raw, err)
		}
		return Location{Scheme: "file", Bucket: abs}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Location{}, fmt.Errorf("bucket URL %q: %w", raw, err)
	}
	loc := Location{Scheme: u.Scheme}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return Location{}, fmt.Errorf("bucket URL %q: file URLs take an absolute path (file:///dir)", raw)
		}
		if u.Path == "" {
			return Location{}, fmt.Errorf("bucket URL %q: no directory", raw)
		}
		loc.Bucket = filepath.Clean(u.Path)
	case "mem":
		loc.Bucket = u.Host
		loc.Prefix = strings.Trim(u.Path, "/")
	default:
		if u.Host == "" {
			return Location{}, fmt.Errorf("bucket URL %q: no bucket name", raw)
		}
		loc.Bucket = u.Host
		loc.Prefix = strings.Trim(u.Path, "/")
	}
	return loc, nil
}

// Open opens the bucket a URL names, with its prefix applied and its
// requests counted in cfg.Metrics. See ParseURL for the URL forms.
func Open(ctx context.Context, rawURL string, cfg Config) (Bucket, error) {
	loc, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	drivers.RLock()
	open, ok := drivers.m[loc.Scheme]
	drivers.RUnlock()
	if !ok {
		return nil, fmt.Errorf("bucket URL %q: no driver for scheme %q (have %s; import github.com/silt-io/silt/objstore/drivers)",
			rawURL, loc.Scheme, strings.Join(Schemes(), ", "))
	}
	b, err := open(ctx, loc, cfg.WithDefaults())
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", rawURL, err)
	}
	if loc.Prefix != "" {
		b = WithPrefix(b, loc.Prefix)
	}
	m := cfg.Metrics
	if m == nil {
		m = NewMetrics(nil)
	}
	return WithMetrics(b, m), nil
}

// Schemes lists the registered URL schemes, sorted.
func Schemes() []string {
	drivers.RLock()
	defer drivers.RUnlock()
	s := make([]string, 0, len(drivers.m))
	for k := range drivers.m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}
