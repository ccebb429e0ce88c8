package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served by --pprof
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/bench"
)

func init() {
	commands["bench"] = command{summary: "measure silt against franz-go's in-memory kfake broker, side by side", run: runBench}
}

func runBench(ctx context.Context, args []string) error {
	cfg := bench.DefaultConfig()
	fs := pflag.NewFlagSet("silt bench", pflag.ContinueOnError)
	var (
		brokers    []string
		local      bench.LocalOptions
		asJSON     bool
		pprofAddr  string
		logLevel   string
		volume     = byteSize(cfg.ProduceBytes)
		recordSize = byteSize(cfg.RecordSize)
		latRate    = byteSize(cfg.LatencyRate)
		steadyRate = byteSize(cfg.SteadyRate)
		clusterVol = byteSize(cfg.ClusterBytes)
		cacheSize  byteSize
	)
	fs.StringSliceVar(&brokers, "brokers", nil, "measure running agents at host:port,... instead of starting one (object-store counts are then n/a)")
	fs.StringVar(&local.BucketURL, "bucket", "", "bucket for the in-process agent (a fresh prefix in it is used and left there; default: a temporary directory)")
	fs.StringVar(&local.Endpoint, "s3-endpoint", "", "endpoint of an S3-compatible server for --bucket (default $SILT_S3_ENDPOINT, else AWS)")
	fs.BoolVar(&local.S3, "s3", false, "store the in-process agent's bucket in a versitygw S3 server on loopback")
	fs.DurationVar(&local.RequestLatency, "request-latency", 0, "delay every request to the in-process agent's bucket by this plus an exponential time of the same mean, as S3's latency (20ms: 20 ms + exponential(20 ms))")
	fs.DurationVar(&local.FlushInterval, "flush-interval", agent.DefaultConfig().FlushInterval, "the in-process agent's flush interval")
	fs.Var(&cacheSize, "cache-size", "the in-process agent's cache (default the larger of 1GiB and 1.25 × --volume, so the produced topic stays cached)")
	fs.BoolVar(&asJSON, "json", false, "print the results as JSON")
	fs.StringVar(&pprofAddr, "pprof", "", "serve net/http/pprof on this address while benchmarking, e.g. localhost:6060")
	fs.StringVar(&logLevel, "log-level", "warn", "level of the in-process agent's logs (on stderr)")

	fs.Var(&volume, "volume", "bytes of record values the throughput measurement produces and the consumers read back")
	fs.Var(&recordSize, "record-size", "size of every record value")
	fs.Int32Var(&cfg.Partitions, "partitions", cfg.Partitions, "partitions of the topics")
	fs.IntVar(&cfg.Producers, "producers", cfg.Producers, "producer clients of the throughput measurement")
	fs.StringVar(&cfg.Compression, "compression", cfg.Compression, "producers' batch compression: none, gzip, snappy, lz4 or zstd")
	fs.DurationVar(&cfg.Linger, "linger", cfg.Linger, "producers' linger")
	fs.Var(&latRate, "latency-rate", "produce rate of the latency measurement, bytes/s (e.g. 20MB)")
	fs.DurationVar(&cfg.LatencyDuration, "latency-duration", cfg.LatencyDuration, "length of the latency measurement, after a warm-up of --warmup")
	fs.DurationVar(&cfg.LatencyFlushInterval, "latency-flush-interval", cfg.LatencyFlushInterval, "the in-process agent's flush interval during the latency measurement")
	fs.DurationVar(&cfg.E2EDuration, "e2e-duration", cfg.E2EDuration, "length of each end-to-end latency measurement (records one at a time), after a warm-up of --warmup")
	fs.Var(&steadyRate, "steady-rate", "produce rate of the PUT-count and tailing measurements, bytes/s")
	fs.DurationVar(&cfg.SteadyDuration, "steady-duration", cfg.SteadyDuration, "length of each PUT-count measurement and of the tailing one")
	fs.DurationVar(&cfg.SteadyWarmup, "warmup", cfg.SteadyWarmup, "warm-up before the latency and PUT-count measurements, left out of them")
	fs.Int32Var(&cfg.ManyPartitions, "many-partitions", cfg.ManyPartitions, "partitions of the second PUT count")
	fs.IntSliceVar(&cfg.ClusterAgents, "cluster-agents", cfg.ClusterAgents, "agents of each in-process cluster of the cluster measurement, one cluster per number")
	fs.Var(&clusterVol, "cluster-volume", "bytes of record values produced to each cluster of the cluster measurement")
	fs.StringSliceVar(&cfg.Steps, "steps", nil, "measurements to run, comma-separated, of "+strings.Join(bench.StepIDs(), ",")+
		" (default all; cached and cold bring in produce)")
	fs.DurationVar(&cfg.PhaseTimeout, "timeout", cfg.PhaseTimeout, "longest any one measurement may take")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if len(brokers) > 0 && (local.BucketURL != "" || local.S3) {
		return errors.New("--brokers measures running agents: --bucket and --s3 do not apply")
	}
	cfg.ProduceBytes, cfg.RecordSize = int64(volume), int(recordSize)
	cfg.LatencyRate, cfg.SteadyRate = int64(latRate), int64(steadyRate)
	cfg.ClusterBytes = int64(clusterVol)
	cfg.LatencyWarmup = cfg.SteadyWarmup
	cfg.Progress = os.Stderr
	local.CacheBytes = int64(cacheSize)
	if local.CacheBytes == 0 {
		local.CacheBytes = max(1<<30, cfg.ProduceBytes/4*5)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	local.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	if pprofAddr != "" {
		stop, err := servePprof(pprofAddr)
		if err != nil {
			return err
		}
		defer stop()
	}

	var (
		silt         bench.Target
		about        string
		clusterWhere string // the bucket of each cluster of the cluster measurement
	)
	if len(brokers) > 0 {
		silt = bench.NewRemote("silt", brokers)
		about = "silt: agents at " + strings.Join(brokers, ",")
	} else {
		startCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		l, err := bench.StartLocal(startCtx, local)
		cancel()
		if err != nil {
			return err
		}
		silt = l
		where := "a file bucket in a temporary directory"
		clusterWhere = "a fresh file bucket in a temporary directory"
		switch {
		case local.BucketURL != "":
			where = "bucket " + local.BucketURL
			clusterWhere = "a fresh prefix of bucket " + local.BucketURL
		case local.S3:
			where = "a versitygw S3 bucket on loopback"
			clusterWhere = "a fresh bucket of its own versitygw S3 server on loopback"
		}
		about = fmt.Sprintf("silt: one in-process agent on %s, flush interval %v, cache %v", where, local.FlushInterval, byteSizeOf(local.CacheBytes))
	}
	defer silt.Close()
	ref, err := bench.StartKfake()
	if err != nil {
		return err
	}
	defer ref.Close()

	res, err := bench.Run(ctx, cfg, silt, ref)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			*bench.Result
			About string   `json:"about"`
			Notes []string `json:"notes"`
		}{res, about, res.Notes()})
	}
	printTable(os.Stdout, res, about)
	printClusterTable(os.Stdout, res, clusterWhere)
	printNotes(os.Stdout, res)
	return nil
}

func byteSizeOf(n int64) *byteSize { b := byteSize(n); return &b }

// servePprof serves net/http/pprof on addr until stop is called.
func servePprof(addr string) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof: %w", err)
	}
	srv := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	fmt.Fprintf(os.Stderr, "pprof on http://%s/debug/pprof/\n", ln.Addr())
	return func() {
		srv.Close()
		<-done
	}, nil
}

// printTable prints the machine, the run's setting and one aligned table.
func printTable(w io.Writer, res *bench.Result, about string) {
	m := res.Machine
	cpu := m.CPU
	if cpu == "" {
		cpu = "unknown CPU"
	}
	fmt.Fprintf(w, "silt bench  %s\n", res.Time.Format(time.RFC3339))
	fmt.Fprintf(w, "machine: %s, %d CPUs, GOMAXPROCS=%d, %s %s/%s\n", cpu, m.NumCPU, m.GOMAXPROCS, m.GoVersion, m.OS, m.Arch)
	if len(res.Rows) == 0 {
		fmt.Fprintln(w)
		return
	}
	fmt.Fprintln(w, about)
	fmt.Fprintf(w, "reference: %s (franz-go's in-memory broker, one node, in this process)\n\n", res.Ref.Target)

	header := []string{"measurement", res.Silt.Target, res.Ref.Target, res.Silt.Target + "/" + res.Ref.Target, "target"}
	cells := [][]string{header}
	for _, r := range res.Rows {
		target := r.Target
		if r.Met != nil {
			target += map[bool]string{true: "  ok", false: "  MISSED"}[*r.Met]
		}
		name := r.Name
		if r.Sub {
			name = "  " + name
		}
		cells = append(cells, []string{name, num(r.Silt), num(r.Ref), num(r.Ratio), target})
	}
	printCells(w, cells, func(i int) bool { return i == 0 || i == len(header)-1 })
	fmt.Fprintln(w)
}

// printClusterTable prints the cluster measurement's table, if it ran.
func printClusterTable(w io.Writer, res *bench.Result, where string) {
	runs := res.Silt.Cluster
	if len(runs) == 0 {
		return
	}
	sizes := make([]string, len(runs))
	for i, c := range runs {
		sizes[i] = fmt.Sprint(c.Agents)
	}
	fmt.Fprintf(w, "cluster: %s in-process agents joined by gossip, each cluster on %s, flush interval %v;\n",
		strings.Join(sizes, ", "), where, runs[0].FlushInterval)
	fmt.Fprintf(w, "%d producers (acks=all, idempotent) bootstrapping with every agent, %v to %d partitions led by every agent, read back and checked\n\n",
		res.Config.Producers, byteSizeOf(res.Config.ClusterBytes), runs[0].Partitions)
	cells := [][]string{{"agents", "produce MB/s", "vs 1 agent", "records/s", "journal entries/s", "commits/s", "commits per entry"}}
	for _, r := range res.ClusterRows {
		cells = append(cells, []string{fmt.Sprint(r.Agents), num(&r.MBps), num(&r.Ratio), num(&r.RecordsPerSec),
			num(&r.EntriesPerSec), num(&r.ProposalsPerSec), num(&r.GroupCommit)})
	}
	printCells(w, cells, func(int) bool { return false })
	fmt.Fprintln(w)
}

// printNotes prints what the tables leave out.
func printNotes(w io.Writer, res *bench.Result) {
	for _, n := range res.Notes() {
		fmt.Fprintln(w, "- "+n)
	}
}

// printCells prints rows of cells in aligned columns: text columns
// left-aligned, numbers right-aligned.
func printCells(w io.Writer, cells [][]string, text func(col int) bool) {
	var width []int
	for _, row := range cells {
		for i, c := range row {
			if i == len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, row := range cells {
		var b strings.Builder
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if text(i) {
				b.WriteString(c + pad)
			} else {
				b.WriteString(pad + c)
			}
			if i < len(row)-1 {
				b.WriteString("  ")
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// num formats a table value with three or so significant digits.
func num(v *float64) string {
	switch {
	case v == nil:
		return "n/a"
	case *v == 0:
		return "0"
	case *v >= 100 || *v <= -100:
		return fmt.Sprintf("%.0f", *v)
	case *v >= 10 || *v <= -10:
		return fmt.Sprintf("%.1f", *v)
	case *v >= 0.1 || *v <= -0.1:
		return fmt.Sprintf("%.2f", *v)
	}
	return fmt.Sprintf("%.3g", *v)
}
