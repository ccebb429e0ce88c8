package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/pflag"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/objstore"
	_ "github.com/silt-io/silt/objstore/drivers"
)

func init() {
	commands["agent"] = command{summary: "run an agent (Kafka on localhost:9092, storing in ./silt-data)", run: runAgent}
}

// bucketFlags are the flags of every command that opens a bucket.
type bucketFlags struct {
	url      string
	endpoint string
}

func (b *bucketFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&b.url, "bucket", "./silt-data", "bucket URL: a directory, file:///dir, s3://bucket/prefix or minio://bucket/prefix")
	fs.StringVar(&b.endpoint, "s3-endpoint", "", "endpoint of an S3-compatible server, e.g. http://127.0.0.1:9000 (default $SILT_S3_ENDPOINT, else AWS)")
}

func (b *bucketFlags) open(ctx context.Context, m *objstore.Metrics) (objstore.Bucket, error) {
	return objstore.Open(ctx, b.url, objstore.Config{Endpoint: b.endpoint, Metrics: m})
}

// logFlags configure the slog logger.
type logFlags struct {
	level  string
	format string
}

func (l *logFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&l.level, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&l.format, "log-format", "text", "text or json")
}

func (l *logFlags) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch l.format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", l.format)
}

func runAgent(ctx context.Context, args []string) error {
	cfg := agent.DefaultConfig()
	fs := pflag.NewFlagSet("silt agent", pflag.ContinueOnError)
	var (
		bf        bucketFlags
		lf        logFlags
		flushSize = byteSize(cfg.FlushBytes)
		cacheSize = byteSize(cfg.CacheBytes)
		queued    = byteSize(cfg.QueuedRequestBytes)

		secretFile string
	)
	bf.register(fs)
	lf.register(fs)
	fs.StringVar(&cfg.NodeName, "node-name", cfg.NodeName, "this agent's name in the cluster; its hash is the Kafka node id unless --node-id is given")
	fs.Int32Var(&cfg.NodeID, "node-id", cfg.NodeID, "this agent's Kafka node id (broker.id), unique in the cluster; -1: the hash of --node-name")
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "Kafka listeners, comma-separated PROTOCOL://host:port with PROTOCOL PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (bare host:port: PLAINTEXT)")
	fs.StringVar(&cfg.Advertise, "advertise", "", "addresses given to clients, PROTOCOL://host:port per listener, comma-separated (bare host:port: the first listener's; default: the listen addresses)")
	sec := &cfg.Security
	fs.StringVar(&sec.TLSCert, "tls-cert", "", "PEM certificate (and chain) of the SSL and SASL_SSL listeners; reloaded when it changes")
	fs.StringVar(&sec.TLSKey, "tls-key", "", "PEM private key of --tls-cert; reloaded when it changes")
	fs.StringVar(&sec.TLSClientCA, "tls-client-ca", "", "PEM file of the CAs that sign client certificates (mTLS)")
	fs.StringVar(&sec.TLSClientAuth, "tls-client-auth", sec.TLSClientAuth, "client certificates: none, requested or required (Kafka's ssl.client.auth)")
	fs.StringVar(&sec.PrincipalMappingRules, "ssl-principal-mapping-rules", sec.PrincipalMappingRules, "how a client certificate's DN becomes User:NAME, Kafka's syntax, e.g. 'RULE:^CN=(.*?),.*$/$1/,DEFAULT'")
	fs.StringSliceVar(&sec.SASLMechanisms, "sasl-mechanisms", sec.SASLMechanisms, "SASL mechanisms of the SASL listeners (OAUTHBEARER is added by --oauth-jwks-file)")
	fs.StringVar(&sec.OAuthJWKSFile, "oauth-jwks-file", "", "JWKS file of the keys that sign accepted OAUTHBEARER tokens (RS256, ES256)")
	fs.StringVar(&sec.OAuthIssuer, "oauth-issuer", "", "the iss OAUTHBEARER tokens must have")
	fs.StringVar(&sec.OAuthAudience, "oauth-audience", "", "an aud OAUTHBEARER tokens must have")
	fs.DurationVar(&sec.MaxReauth, "connections-max-reauth", 0, "longest a SASL session lasts before the client must re-authenticate (0: until its token expires)")
	fs.StringVar(&cfg.HTTPListen, "http", cfg.HTTPListen, "address of the web console (/ui), its JSON (/api/v1), /metrics, /healthz, /readyz and the agents' internal RPC (empty: off, single agent only)")
	fs.StringVar(&cfg.HTTPAdvertise, "http-advertise", "", "host:port other agents reach --http at (default: the advertised host with the --http port)")
	fs.StringVar(&cfg.Gossip, "gossip", cfg.Gossip, "gossip (memberlist) bind address, TCP and UDP (default: off, a single agent; :7946 when --join is given)")
	fs.StringVar(&cfg.GossipAdvertise, "gossip-advertise", "", "host:port other agents reach gossip at (default: chosen from --gossip)")
	fs.StringSliceVar(&cfg.Join, "join", nil, "gossip addresses of running agents, comma-separated; a DNS name with several addresses joins them all; retried until one answers")
	fs.StringVar(&secretFile, "cluster-secret-file", "", "file holding the cluster's shared secret (16+ bytes): encrypts gossip and signs the internal RPC; every agent needs the same")
	fs.StringVar(&cfg.Zone, "zone", "", "this agent's availability zone; clients with silt_zone=NAME in client.id are given agents of their zone")
	fs.DurationVar(&cfg.FlushInterval, "flush-interval", cfg.FlushInterval, "longest a produced batch waits before its segment is written")
	fs.Float64Var(&cfg.PutBudget, "put-budget", cfg.PutBudget, "on a store that charges per request (s3, minio), the PUTs a second produces may cause before --flush-interval (8 ≈ $105 a month at S3 list prices); a directory is written as soon as the previous write is done")
	fs.Var(&flushSize, "flush-bytes", "write a segment early once this much is buffered (e.g. 8MiB)")
	fs.Var(&cacheSize, "cache-size", "memory budget of the chunk cache (e.g. 1GiB)")
	fs.Var(&queued, "queued-max-request-bytes", "bytes of requests read and not yet answered, across connections (Kafka's queued.max.request.bytes); a client beyond it waits")
	fs.StringVar(&cfg.CacheDir, "cache-dir", "", "directory for a disk tier of the chunk cache (default: none)")
	fs.BoolVar(&cfg.AutoCreateTopics, "auto-create-topics", cfg.AutoCreateTopics, "create unknown topics on first use")
	fs.Int32Var(&cfg.DefaultPartitions, "default-partitions", cfg.DefaultPartitions, "partitions of auto-created topics")
	fs.Int32Var(&cfg.MessageMaxBytes, "message-max-bytes", cfg.MessageMaxBytes, "default max.message.bytes of topics")
	fs.DurationVar(&cfg.CommitTimeout, "commit-timeout", cfg.CommitTimeout, "longest a produce waits for its segment to be stored and committed")
	fs.BoolVar(&cfg.Compaction, "compaction", cfg.Compaction, "run the compactor (merging, retention, compacted topics, Parquet export) when this agent holds the role")
	fs.BoolVar(&cfg.ExportAll, "export", false, "export every topic to Parquet under <bucket>/export/, not only those with silt.export=parquet")
	fs.DurationVar(&cfg.TransactionMaxTimeout, "transaction-max-timeout", cfg.TransactionMaxTimeout, "the longest transaction.timeout.ms a transactional producer may ask for (Kafka's transaction.max.timeout.ms)")
	fs.DurationVar(&cfg.OffsetsRetention, "offsets-retention", cfg.OffsetsRetention, "how long a consumer group without members keeps its committed offsets")
	fs.DurationVar(&cfg.GroupInitialRebalanceDelay, "group-initial-rebalance-delay", cfg.GroupInitialRebalanceDelay, "how long a new consumer group waits for more members before its first assignment")
	var superUsers string
	fs.BoolVar(&cfg.Authorizer, "authorizer", cfg.Authorizer, "check every request against Kafka ACLs kept in the journal (managed with kafka-acls.sh); off: everyone may do everything")
	fs.StringVar(&superUsers, "super-users", "", "principals the authorizer grants everything, semicolon-separated: 'User:admin;User:ops'")
	fs.BoolVar(&cfg.AllowEveryoneIfNoACL, "allow-everyone-if-no-acl-found", cfg.AllowEveryoneIfNoACL, "with --authorizer, grant requests on resources no ACL covers")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	for _, u := range strings.Split(superUsers, ";") {
		if u = strings.TrimSpace(u); u != "" {
			cfg.SuperUsers = append(cfg.SuperUsers, u)
		}
	}
	cfg.FlushBytes, cfg.CacheBytes, cfg.QueuedRequestBytes = int(flushSize), int64(cacheSize), int64(queued)
	if secretFile != "" {
		secret, err := os.ReadFile(secretFile)
		if err != nil {
			return fmt.Errorf("--cluster-secret-file: %w", err)
		}
		cfg.ClusterSecret = bytes.TrimRight(secret, "\r\n")
	}
	if cfg.Gossip == "" && len(cfg.Join) > 0 {
		cfg.Gossip = ":7946" // joining others needs a gossip port of one's own
	}
	log, err := lf.logger()
	if err != nil {
		return err
	}
	cfg.Logger = log
	slog.SetDefault(log)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.Registry = reg
	bucket, err := bf.open(ctx, objstore.NewMetrics(reg))
	if err != nil {
		return err
	}
	defer bucket.Close()
	a, err := agent.New(cfg, bucket)
	if err != nil {
		return err
	}
	// The agent's budgets add up to a soft memory limit for the Go runtime,
	// unless the operator set one (GOMEMLIMIT).
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.MemoryLimit())
		log.Info("memory limit", "bytes", cfg.MemoryLimit())
	}
	startCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := a.Start(startCtx); err != nil {
		a.Close()
		return err
	}
	<-ctx.Done()
	log.Info("shutting down: flushing buffered records")
	return a.Close()
}
