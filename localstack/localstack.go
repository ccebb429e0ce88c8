// Package localstack runs a complete silt cluster on one machine: a bucket
// (a directory, or a versitygw S3 server on loopback) and agents on loopback
// ports, either inside this process or as separate `silt agent` processes.
// Tests, examples and `silt dev` use it, so they all start clusters the
// same way.
package localstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/localstack/s3server"
	"github.com/silt-io/silt/objstore"
	_ "github.com/silt-io/silt/objstore/drivers"
)

// Options describes a cluster. The zero value is one agent on a fresh
// directory.
type Options struct {
	// Agents is the number of agents; default 1.
	Agents int
	// Dir is the directory of the file bucket; default a new temporary
	// directory, removed by Close.
	Dir string
	// S3 stores the bucket in a versitygw server started on loopback,
	// reached through the s3 driver, instead of a directory.
	S3 bool
	// Bucket, if set, is used as is (for fault injection); Dir, S3 and
	// Metrics are then ignored.
	Bucket objstore.Bucket
	// WrapBucket, if set, wraps the bucket the cluster opens (the
	// directory or the S3 server's, already counted by Metrics) before
	// the agents get it: a benchmark injects a store's latency with it.
	WrapBucket func(objstore.Bucket) objstore.Bucket
	// Metrics, if set, counts the requests of the bucket the cluster
	// opens, so benchmarks can report requests per MiB; default a private
	// counter.
	Metrics *objstore.Metrics
	// Compaction runs the compactor on the agent holding the role
	// (agent.Config.Compaction); off by default here.
	Compaction bool
	// Configure adjusts agent i's configuration before it starts.
	Configure func(i int, cfg *agent.Config)
	// Logger for the agents; default one that prints warnings and errors.
	Logger *slog.Logger
}

// Cluster is a running cluster.
type Cluster struct {
	// Bucket is the cluster's bucket as the agents see it.
	Bucket objstore.Bucket
	// BucketURL opens the bucket again (`silt --bucket`); with S3, the
	// S3Env variables are needed too.
	BucketURL string
	// S3Env holds the environment a process needs to reach the S3 server.
	S3Env []string
	// Agents are the running agents, in start order.
	Agents []*agent.Agent

	opts    Options
	s3      *s3server.Server
	tempDir string
	mu      sync.Mutex
	closed  bool
}

// Start starts a cluster.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if opts.Agents == 0 {
		opts.Agents = 1
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	c := &Cluster{opts: opts}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	switch {
	case opts.Bucket != nil:
		c.Bucket = opts.Bucket
	case opts.S3:
		srv, err := s3server.Start(ctx, s3server.Options{})
		if err != nil {
			return nil, fmt.Errorf("start S3 server: %w", err)
		}
		c.s3 = srv
		if err := srv.CreateBucket(ctx, s3server.TestBucket); err != nil {
			return nil, err
		}
		c.S3Env = srv.Env()
		c.BucketURL = "s3://" + s3server.TestBucket + "/cluster"
		c.Bucket, err = objstore.Open(ctx, c.BucketURL, objstore.Config{
			Endpoint: srv.Endpoint(), Region: srv.Region(), Metrics: opts.Metrics,
			AccessKey: srv.AccessKey(), SecretKey: srv.SecretKey(),
		})
		if err != nil {
			return nil, err
		}
	default:
		dir := opts.Dir
		if dir == "" {
			if dir, err = os.MkdirTemp("", "silt-localstack-*"); err != nil {
				return nil, err
			}
			c.tempDir = dir
		}
		c.BucketURL = dir
		if c.Bucket, err = objstore.Open(ctx, dir, objstore.Config{Metrics: opts.Metrics}); err != nil {
			return nil, err
		}
	}
	if opts.WrapBucket != nil && opts.Bucket == nil {
		c.Bucket = opts.WrapBucket(c.Bucket)
	}
	for i := range opts.Agents {
		if _, err := c.AddAgent(ctx, i); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// AgentConfig returns the configuration agent i starts with: loopback
// ports chosen by the system, gossip joining the agents already running,
// a smaller cache and a short initial rebalance delay; the write path runs
// at its defaults (a directory is written as soon as the previous write is
// done, so tests need no short flush interval).
func (c *Cluster) AgentConfig(i int) agent.Config {
	cfg := agent.DefaultConfig()
	cfg.NodeName = fmt.Sprintf("agent-%d", i)
	cfg.Listen = "127.0.0.1:0"
	cfg.HTTPListen = "127.0.0.1:0"
	cfg.Gossip = "127.0.0.1:0"
	cfg.Join = c.GossipSeeds()
	cfg.CacheBytes = 256 << 20
	cfg.GroupInitialRebalanceDelay = 100 * time.Millisecond
	// The compactor applies retention by record time, and tests write
	// records with fixed timestamps long past the 7 days of the default
	// retention.ms: it runs only where a test asks for it.
	cfg.Compaction = c.opts.Compaction
	cfg.Logger = c.opts.Logger
	if c.opts.Configure != nil {
		c.opts.Configure(i, &cfg)
	}
	return cfg
}

// AddAgent starts agent number i (its name is agent-<i>) on the bucket.
func (c *Cluster) AddAgent(ctx context.Context, i int) (*agent.Agent, error) {
	a, err := agent.New(c.AgentConfig(i), c.Bucket)
	if err != nil {
		return nil, err
	}
	if err := a.Start(ctx); err != nil {
		a.Close()
		return nil, fmt.Errorf("start agent %d: %w", i, err)
	}
	c.mu.Lock()
	c.Agents = append(c.Agents, a)
	c.mu.Unlock()
	return a, nil
}

// GossipSeeds returns the gossip addresses of the running agents, for a
// new agent (or process) to join.
func (c *Cluster) GossipSeeds() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var seeds []string
	for _, a := range c.Agents {
		if addr := a.GossipAddr(); addr != "" {
			seeds = append(seeds, addr)
		}
	}
	return seeds
}

// Bootstrap returns the agents' Kafka addresses, comma-separated.
func (c *Cluster) Bootstrap() string {
	return strings.Join(c.Seeds(), ",")
}

// Seeds returns the agents' Kafka addresses.
func (c *Cluster) Seeds() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var seeds []string
	for _, a := range c.Agents {
		seeds = append(seeds, a.Addr())
	}
	return seeds
}

// Close stops the agents gracefully, then the bucket and S3 server, and
// removes a temporary directory. It is idempotent.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	agents := c.Agents
	c.mu.Unlock()
	var errs []error
	for _, a := range agents {
		errs = append(errs, a.Close())
	}
	if c.Bucket != nil && c.opts.Bucket == nil {
		errs = append(errs, c.Bucket.Close())
	}
	if c.s3 != nil {
		errs = append(errs, c.s3.Close())
	}
	if c.tempDir != "" {
		errs = append(errs, os.RemoveAll(c.tempDir))
	}
	return errors.Join(errs...)
}
