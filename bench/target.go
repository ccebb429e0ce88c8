package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/internal/testpki"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/objstore/objstorefault"
)

// Target is a Kafka cluster under test, with what the engine needs to know
// about it beyond the Kafka protocol. Methods are called from one goroutine.
type Target interface {
	// Name labels the target in the table.
	Name() string
	// Seeds returns the addresses of the Kafka listeners serving now.
	Seeds() []string
	// Requests returns the bucket's request counts so far, or false when
	// the target has no bucket the benchmark can see.
	Requests() (objstore.Counts, bool)
	// JournalSeq returns the number of the last journal entry, or false
	// when unknown; it splits PUTs into journal entries and segments.
	JournalSeq() (uint64, bool)
	// FlushInterval returns the serving agents' flush interval, or 0 when
	// unknown or meaningless.
	FlushInterval() time.Duration
	// PutBudget returns the serving agent's PUT budget (agent.Config's), 0
	// when its store has no per-request price or it is unknown.
	PutBudget() float64
	// Restart replaces the serving agents with fresh ones (empty caches) on
	// the same bucket, flushing every flushInterval (0: the target's
	// default). It returns false, having changed nothing, if the target
	// cannot.
	Restart(ctx context.Context, flushInterval time.Duration) (bool, error)
	// Close stops what the target started. It is idempotent.
	Close() error
}

// LocalOptions configures a silt cluster started in this process.
type LocalOptions struct {
	// BucketURL, if set, is the bucket to store into (any objstore URL,
	// reached with Endpoint); the cluster lives under a fresh prefix in it,
	// left there at Close. Default: a temporary directory, removed at Close.
	BucketURL, Endpoint string
	// S3 stores the bucket in a versitygw server on loopback (localstack's
	// S3 option) instead of a directory.
	S3 bool
	// FlushInterval is the agents' flush interval. Default 250ms, the
	// agent's default.
	FlushInterval time.Duration
	// CacheBytes is the agents' chunk cache budget. Default 1 GiB, the
	// agent's default.
	CacheBytes int64
	// RequestLatency, if positive, delays every request to the bucket by
	// itself plus an exponentially distributed time of the same mean
	// (20ms: 20 ms + exponential(20 ms)), as S3's first-byte latency
	// would, on a store (versitygw on loopback) that has none.
	RequestLatency time.Duration
	// Logger receives the agents' logs; default warnings and errors on
	// stderr.
	Logger *slog.Logger
}

// Local is silt running in this process: one agent at a time on a
// localstack bucket whose requests are counted. It also starts the
// clusters of the cluster measurement, with agents configured like its
// own.
type Local struct {
	cluster *localstack.Cluster
	// pki signs the certificate of the agents' SSL listener, which the
	// TLS measurement produces and consumes through (tls.go).
	pki     *testpki.CA
	metrics *objstore.Metrics
	bucket  objstore.Bucket // opened here, from BucketURL; nil otherwise
	opts    LocalOptions

	// flush is the flush interval the next agent starts with; current is
	// the serving agent and next the index of the next one.
	flush   time.Duration
	current *agent.Agent
	next    int
}

// StartLocal starts a one-agent silt cluster.
func StartLocal(ctx context.Context, opts LocalOptions) (_ *Local, err error) {
	def := agent.DefaultConfig()
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = def.FlushInterval
	}
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = def.CacheBytes
	}
	l := &Local{metrics: objstore.NewMetrics(nil), opts: opts, flush: opts.FlushInterval}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	certFile, keyFile, err := l.makeCertificate()
	if err != nil {
		return nil, err
	}
	lo := localstack.Options{
		S3: opts.S3, Metrics: l.metrics, Logger: opts.Logger, WrapBucket: opts.withLatency,
		Configure: func(_ int, cfg *agent.Config) {
			cfg.FlushInterval = l.flush
			cfg.CacheBytes = opts.CacheBytes
			cfg.HTTPListen, cfg.Gossip = "", ""
			cfg.Listen = "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0"
			cfg.Security.TLSCert, cfg.Security.TLSKey = certFile, keyFile
		},
	}
	if opts.BucketURL != "" {
		if l.bucket, err = opts.openPrefix(ctx, "silt-bench", l.metrics); err != nil {
			return nil, err
		}
		lo.Bucket = l.bucket
	}
	if l.cluster, err = localstack.Start(ctx, lo); err != nil {
		return nil, fmt.Errorf("start silt: %w", err)
	}
	l.current, l.next = l.cluster.Agents[0], 1
	return l, nil
}

// openPrefix opens a fresh prefix, named after name and the time, in the
// bucket at BucketURL.
func (o *LocalOptions) openPrefix(ctx context.Context, name string, m *objstore.Metrics) (objstore.Bucket, error) {
	url := strings.TrimRight(o.BucketURL, "/") + "/" + name + "-" + time.Now().UTC().Format("20060102T150405")
	return objstore.Open(ctx, url, objstore.Config{Endpoint: o.Endpoint, Metrics: m})
}

// Name implements Target.
func (l *Local) Name() string { return "silt" }

// Seeds implements Target.
func (l *Local) Seeds() []string { return []string{l.current.Addr()} }

// Requests implements Target.
func (l *Local) Requests() (objstore.Counts, bool) { return l.metrics.Snapshot(), true }

// JournalSeq implements Target.
func (l *Local) JournalSeq() (uint64, bool) { return l.current.Journal().Seq(), true }

// FlushInterval implements Target.
func (l *Local) FlushInterval() time.Duration { return l.flush }

// PutBudget implements Target.
func (l *Local) PutBudget() float64 { return l.current.PutBudget() }

// Restart implements Target: it closes the serving agent, which commits
// what it buffered, and starts the next one on the same bucket.
func (l *Local) Restart(ctx context.Context, flushInterval time.Duration) (bool, error) {
	if l.current != nil {
		if err := l.current.Close(); err != nil {
			return false, fmt.Errorf("close agent: %w", err)
		}
	}
	l.flush = flushInterval
	if l.flush <= 0 {
		l.flush = l.opts.FlushInterval
	}
	a, err := l.cluster.AddAgent(ctx, l.next)
	if err != nil {
		return false, err
	}
	l.current, l.next = a, l.next+1
	return true, nil
}

// Close implements Target.
func (l *Local) Close() error {
	var errs []error
	if l.cluster != nil {
		errs = append(errs, l.cluster.Close())
		l.cluster = nil
	}
	if l.bucket != nil {
		errs = append(errs, l.bucket.Close())
		l.bucket = nil
	}
	if l.pki != nil {
		errs = append(errs, os.RemoveAll(l.pki.Dir))
		l.pki = nil
	}
	return errors.Join(errs...)
}

// Remote is a cluster the benchmark reaches over the network only, such as
// `silt agent` processes: no object-store counts, no restarts.
type Remote struct {
	name  string
	seeds []string
}

// NewRemote returns a target for the brokers at seeds.
func NewRemote(name string, seeds []string) *Remote { return &Remote{name: name, seeds: seeds} }

// Name implements Target.
func (r *Remote) Name() string { return r.name }

// Seeds implements Target.
func (r *Remote) Seeds() []string { return r.seeds }

// Requests implements Target.
func (r *Remote) Requests() (objstore.Counts, bool) { return objstore.Counts{}, false }

// JournalSeq implements Target.
func (r *Remote) JournalSeq() (uint64, bool) { return 0, false }

// FlushInterval implements Target.
func (r *Remote) FlushInterval() time.Duration { return 0 }

// PutBudget implements Target: unknown.
func (r *Remote) PutBudget() float64 { return 0 }

// Restart implements Target.
func (r *Remote) Restart(context.Context, time.Duration) (bool, error) { return false, nil }

// Close implements Target.
func (r *Remote) Close() error { return nil }

// Kfake is franz-go's in-memory broker with one node: the reference of a
// broker that stores nothing durably.
type Kfake struct {
	*Remote
	once sync.Once
	c    *kfake.Cluster
}

// StartKfake starts a one-broker kfake cluster.
func StartKfake() (*Kfake, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	if err != nil {
		return nil, fmt.Errorf("start kfake: %w", err)
	}
	return &Kfake{Remote: NewRemote("kfake", c.ListenAddrs()), c: c}, nil
}

// Close implements Target.
func (k *Kfake) Close() error {
	k.once.Do(k.c.Close)
	return nil
}

// withLatency wraps b with the options' request latency, if any.
func (o LocalOptions) withLatency(b objstore.Bucket) objstore.Bucket {
	if o.RequestLatency <= 0 {
		return b
	}
	f := objstorefault.Wrap(b)
	base := o.RequestLatency
	f.SetLatencyFunc(func() time.Duration { return base + time.Duration(rand.ExpFloat64()*float64(base)) })
	return f
}
