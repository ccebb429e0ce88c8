package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/localstack"
)

func init() {
	commands["dev"] = command{summary: "run a local cluster of N agents in one process (for development)", run: runDev}
}

// runDev starts a localstack cluster: a bucket (a directory, or versitygw
// with --s3) and N agents on loopback, and prints where to reach them.
func runDev(ctx context.Context, args []string) error {
	fs := pflag.NewFlagSet("silt dev", pflag.ContinueOnError)
	var (
		lf        logFlags
		agents    int
		dir       string
		s3        bool
		basePort  int
		flush     time.Duration
		joinDelay time.Duration
	)
	lf.register(fs)
	fs.IntVar(&agents, "agents", 3, "number of agents")
	fs.StringVar(&dir, "dir", "./silt-dev", "directory of the file bucket (kept between runs)")
	fs.BoolVar(&s3, "s3", false, "store in a versitygw S3 server started on loopback instead of a directory (installs versitygw if needed)")
	fs.IntVar(&basePort, "port", 9092, "Kafka port of the first agent; agent i listens on port+i, HTTP on 9644+i (0: ports chosen by the system)")
	fs.DurationVar(&flush, "flush-interval", agent.DefaultConfig().FlushInterval, "the agents' flush interval")
	fs.DurationVar(&joinDelay, "group-initial-rebalance-delay", time.Second, "the agents' group.initial.rebalance.delay")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if agents < 1 {
		return fmt.Errorf("--agents %d: want at least 1", agents)
	}
	log, err := lf.logger()
	if err != nil {
		return err
	}
	opts := localstack.Options{
		Agents: agents, S3: s3, Logger: log, Compaction: true,
		Configure: func(i int, cfg *agent.Config) {
			if basePort > 0 {
				cfg.Listen = fmt.Sprintf("127.0.0.1:%d", basePort+i)
				cfg.HTTPListen = fmt.Sprintf("127.0.0.1:%d", 9644+i)
			}
			cfg.FlushInterval = flush
			cfg.GroupInitialRebalanceDelay = joinDelay
		},
	}
	if !s3 {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		opts.Dir = dir
	}
	startCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	c, err := localstack.Start(startCtx, opts)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Printf("silt dev: %d agents on %s\n", agents, c.BucketURL)
	for _, a := range c.Agents {
		fmt.Printf("  %-8s kafka %-16s http %-16s gossip %s\n", a.NodeName(), a.Addr(), a.HTTPAddr(), a.GossipAddr())
	}
	if s3 {
		fmt.Printf("S3 environment for other tools: %v\n", c.S3Env)
	}
	fmt.Printf("bootstrap: %s\n", c.Bootstrap())
	slog.Info("press Ctrl-C to stop")
	<-ctx.Done()
	return nil
}
