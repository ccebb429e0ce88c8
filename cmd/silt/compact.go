package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/pflag"

	"github.com/silt-io/silt/compaction"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore"
)

func init() {
	commands["compact"] = command{summary: "merge, apply retention, clean compacted topics, export and collect garbage in a bucket", run: runCompact}
}

// compactFlags are the compactor options shared by compact and export.
type compactFlags struct {
	opts        compaction.Options
	mergeTarget byteSize
	exportMax   byteSize
}

func (c *compactFlags) register(fs *pflag.FlagSet, export bool) {
	d := compaction.DefaultOptions()
	c.mergeTarget, c.exportMax = byteSize(d.MergeTarget), byteSize(d.ExportMaxBytes)
	if !export {
		fs.DurationVar(&c.opts.Interval, "interval", d.Interval, "pause between two passes (without --once)")
		fs.Var(&c.mergeTarget, "merge-target", "size merged objects are cut at (e.g. 64MiB)")
		fs.DurationVar(&c.opts.MergeWindow, "merge-window", d.MergeWindow, "most upload time one merged object spans, and how long new chunks wait before merging")
		fs.DurationVar(&c.opts.Grace, "grace", d.Grace, "how long an unreferenced object stays before it is deleted")
		fs.DurationVar(&c.opts.OrphanAge, "orphan-age", d.OrphanAge, "age after which a never-committed object is garbage (more than the agents' --commit-timeout)")
		fs.DurationVar(&c.opts.JournalRetention, "journal-retention", d.JournalRetention, "how long journal entries stay once a snapshot covers them (negative: forever)")
		fs.BoolVar(&c.opts.ExportAll, "export", false, "export every topic to Parquet, not only those with silt.export=parquet")
		fs.DurationVar(&c.opts.ArchiveRetention, "archive-retention", 0, "take hours of exported records older than this out of their Iceberg tables, and then the bucket (0: keep the archive forever)")
	}
	fs.StringVar(&c.opts.TableLocation, "table-location", "", "URI engines read the bucket at, recorded in the Iceberg tables (default: from --bucket, s3://bucket/prefix or file:///dir)")
	fs.DurationVar(&c.opts.SnapshotAge, "snapshot-age", d.SnapshotAge, "how long an Iceberg snapshot that is no longer current stays, for time travel")
	fs.Var(&c.exportMax, "export-max-bytes", "most record-batch bytes in one export range (its files are built in memory)")
}

// openCompactor opens the journal of the bucket and a compactor that
// proposes through its own committer: safe beside running agents, since
// journal entries are written with put-if-absent. The returned func closes
// what was opened.
func openCompactor(ctx context.Context, bucket objstore.Bucket, log *slog.Logger, cf *compactFlags, prog *progress) (*compaction.Compactor, func(), error) {
	jl, err := journal.Open(ctx, bucket, journal.Options{WriterID: "silt-compact-" + hostname(), Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("read the journal in %s: %w", bucket.Name(), err)
	}
	var cluster string
	jl.View(func(s *journal.State) { cluster = s.ClusterID })
	if cluster == "" {
		return nil, nil, fmt.Errorf("no silt cluster in %s (no journal)", bucket.Name())
	}
	cm := journal.NewCommitter(jl, journal.CommitterOptions{})
	opts := cf.opts
	opts.MergeTarget, opts.ExportMaxBytes = int64(cf.mergeTarget), int64(cf.exportMax)
	opts.Logger = log
	if prog != nil {
		opts.Progress = func(p compaction.Progress) {
			prog.add(p.Records, p.Bytes)
			prog.set(p.Stage + " " + p.Topic)
		}
	}
	return compaction.New(bucket, jl, compaction.CommitterProposer(cm), opts), func() { cm.Close() }, nil
}

func runCompact(ctx context.Context, args []string) error {
	fs := pflag.NewFlagSet("silt compact", pflag.ContinueOnError)
	var (
		bf   bucketFlags
		lf   logFlags
		cf   compactFlags
		once bool
	)
	bf.register(fs)
	lf.register(fs)
	cf.register(fs, false)
	fs.BoolVar(&once, "once", false, "make one pass and exit (default: a pass every --interval until interrupted)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	log, err := lf.logger()
	if err != nil {
		return err
	}
	bucket, err := bf.open(ctx, nil)
	if err != nil {
		return err
	}
	defer bucket.Close()
	var prog *progress
	if once {
		prog = startProgress("compact")
	}
	c, closeFn, err := openCompactor(ctx, bucket, log, &cf, prog)
	if err != nil {
		return err
	}
	defer closeFn()
	if !once {
		if err := c.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	}
	start := time.Now()
	st, err := c.RunOnce(ctx)
	prog.stop()
	log.Info("compaction pass done", "took", time.Since(start).Round(time.Millisecond), "stats", fmt.Sprintf("%+v", st))
	return err
}
