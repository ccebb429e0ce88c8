package compaction

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore"
)

// Proposer writes commands to the journal and returns their results once
// applied to the Log the Compactor reads. An error means they may or may
// not have been applied. An agent passes a function that sends them to the
// committer; a tool running alone passes CommitterProposer.
type Proposer func(ctx context.Context, cmds []journal.Command) ([]journal.Result, error)

// CommitterProposer proposes through a journal.Committer.
func CommitterProposer(c *journal.Committer) Proposer {
	return func(ctx context.Context, cmds []journal.Command) ([]journal.Result, error) {
		_, res, err := c.Submit(ctx, cmds)
		return res, err
	}
}

// Options configures a Compactor. Every zero field takes the default in
// DefaultOptions.
type Options struct {
	// Interval is the pause between two passes of Run.
	Interval time.Duration
	// CleanInterval is how often Run looks for compacted partitions due
	// for cleaning between two passes (Kafka's log.cleaner.backoff.ms);
	// a check that finds nothing due reads nothing from the bucket.
	CleanInterval time.Duration
	// MergeTarget is the size (decoded bytes) merged objects are cut at;
	// chunks of at least half of it are left alone.
	MergeTarget int64
	// MergeRate paces merging and cleaning to about this many decoded
	// bytes per second, so that the compactor's reads, compression and
	// writes do not come in bursts that delay the agent's own flushes.
	// Negative: no pacing.
	MergeRate int64
	// MergeWindow bounds the upload time one merged object spans, and is
	// how long the newest chunks wait before they are merged.
	MergeWindow time.Duration
	// Grace is how long an object stays in the bucket after the journal
	// marked it unreferenced, so that reads planned before finish.
	Grace time.Duration
	// OrphanAge is the age (by segment id) after which an object that was
	// never committed is taken for garbage: it must exceed any agent's
	// commit timeout.
	OrphanAge time.Duration
	// OrphanScanInterval is how often the segments are listed to find
	// orphans.
	OrphanScanInterval time.Duration
	// JournalRetention is how long journal entries and snapshots stay
	// after a newer snapshot covers them; 0 keeps them forever.
	JournalRetention time.Duration
	// ExportAll exports every topic to Parquet, as if silt.export=parquet
	// were set on each (silt agent --export).
	ExportAll bool
	// ExportMaxBytes bounds the record-batch bytes of one export range,
	// and so the memory an export takes.
	ExportMaxBytes int64
	// TableLocation is the URI engines read the cluster prefix at, which
	// the Iceberg tables of exported topics record (iceberg.Options).
	// Default: from the bucket's name (s3://bucket/prefix, file:///dir).
	TableLocation string
	// SnapshotAge is how long a table snapshot that is no longer current
	// stays (time travel; iceberg.Options.SnapshotAge). Default 6 hours.
	SnapshotAge time.Duration
	// ArchiveRetention, if positive, takes the hours of an exported
	// topic's table whose records are older than this out of the table (a
	// delete snapshot); the files leave the bucket when that snapshot's
	// parent expires. 0 keeps the archive forever.
	ArchiveRetention time.Duration
	// RowGroupBytes is the approximate uncompressed size of a Parquet row
	// group.
	RowGroupBytes int64
	// Read reads a committed chunk; an agent passes its cached reader.
	// Default: ReadChunk on the bucket.
	Read ReadFunc
	// Merged, if set, is called once a merge is committed, with the chunks
	// it replaced, the new chunk and its batches exactly as Read will
	// return them: an agent moves its cache entries to the new chunk, so
	// a consumer that reads on into merged chunks (a tailing consumer a
	// chunk behind) costs no GET. It may keep data: the compactor does not
	// touch it again.
	Merged func(old []journal.Chunk, new journal.Chunk, data []byte)
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Progress, if set, is told of work as it is done (silt export and
	// silt compact show it on a terminal).
	Progress func(Progress)
}

// Progress reports work done since the last report.
type Progress struct {
	Stage   string // "export", "merge", "clean"
	Topic   string
	Records int64
	Bytes   int64
}

// DefaultOptions returns the defaults, each commented.
func DefaultOptions() Options {
	return Options{
		Interval:           30 * time.Second, // a pass is cheap when there is nothing to do
		CleanInterval:      15 * time.Second, // Kafka's log.cleaner.backoff.ms
		MergeTarget:        64 << 20,         // 16 GETs for a cold read of 1 GiB
		MergeRate:          64 << 20,         // well above one agent's ingest, so merging keeps up, in steps of one object
		MergeWindow:        10 * time.Minute, // and at most 10 minutes of uploads per object
		Grace:              10 * time.Minute, // far beyond any fetch's read of a chunk
		OrphanAge:          time.Hour,        // far beyond the agents' commit timeout (30s)
		OrphanScanInterval: 10 * time.Minute, // a listing of segments/ costs one LIST per 1000 objects
		JournalRetention:   time.Hour,        // an agent that paused this long reads from a snapshot again
		ExportMaxBytes:     256 << 20,        // a range at most this many batch bytes; its files are built in memory
		RowGroupBytes:      128 << 20,        // as Spark and Trino expect
		SnapshotAge:        6 * time.Hour,    // time travel over the last 6 hours; at one export a minute, 360 snapshots
	}
}

func (o Options) withDefaults(bucket objstore.Reader) Options {
	d := DefaultOptions()
	if o.Interval <= 0 {
		o.Interval = d.Interval
	}
	if o.CleanInterval <= 0 {
		o.CleanInterval = d.CleanInterval
	}
	if o.MergeTarget <= 0 {
		o.MergeTarget = d.MergeTarget
	}
	if o.MergeRate == 0 {
		o.MergeRate = d.MergeRate
	}
	if o.MergeWindow <= 0 {
		o.MergeWindow = d.MergeWindow
	}
	if o.Grace <= 0 {
		o.Grace = d.Grace
	}
	if o.OrphanAge <= 0 {
		o.OrphanAge = d.OrphanAge
	}
	if o.OrphanScanInterval <= 0 {
		o.OrphanScanInterval = d.OrphanScanInterval
	}
	if o.JournalRetention < 0 {
		o.JournalRetention = 0
	} else if o.JournalRetention == 0 {
		o.JournalRetention = d.JournalRetention
	}
	if o.ExportMaxBytes <= 0 {
		o.ExportMaxBytes = d.ExportMaxBytes
	}
	if o.RowGroupBytes <= 0 {
		o.RowGroupBytes = d.RowGroupBytes
	}
	if o.SnapshotAge <= 0 {
		o.SnapshotAge = d.SnapshotAge
	}
	if o.Read == nil {
		o.Read = BucketReader(bucket)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Compactor merges, applies retention, cleans compacted topics, exports to
// Parquet and collects garbage for one cluster. See the package
// documentation. It is not safe for concurrent use: one goroutine calls
// Run or RunOnce.
type Compactor struct {
	bucket  objstore.Bucket
	log     *journal.Log
	propose Proposer
	opts    Options

	// prevRefs is the set of referenced objects at the end of the last
	// pass: objects that leave it became garbage.
	prevRefs map[string]bool
	// dropped lists objects whose chunks this compactor replaced or
	// dropped since the last garbage collection: candidates even if they
	// were committed after prevRefs was taken.
	dropped []string
	// lastOrphanScan and lastHousekeeping are when those last ran.
	lastOrphanScan   time.Time
	lastHousekeeping time.Time
}

// New returns a compactor of the cluster whose journal is log, in bucket,
// proposing its commands with propose.
func New(bucket objstore.Bucket, log *journal.Log, propose Proposer, opts Options) *Compactor {
	return &Compactor{bucket: bucket, log: log, propose: propose, opts: opts.withDefaults(bucket)}
}

// Stats counts what one pass did.
type Stats struct {
	Merged          int   // chunks merged away
	MergedObjects   int   // merged objects written
	Cleaned         int   // chunks of compacted topics rewritten
	CleanedRecords  int64 // records dropped by cleaning
	Truncated       int   // partitions whose log start advanced
	ExportedRecords int64
	ExportedFiles   int
	TableCommits    int           // Iceberg snapshots committed
	TableCommitTime time.Duration // time spent committing them
	ArchiveRemoved  int           // data files taken out of tables by ArchiveRetention
	Marked          int           // objects marked garbage
	Deleted         int           // objects deleted
	JournalDeleted  int           // journal entries and snapshots deleted
}

func (s *Stats) add(o Stats) {
	s.Merged += o.Merged
	s.MergedObjects += o.MergedObjects
	s.Cleaned += o.Cleaned
	s.CleanedRecords += o.CleanedRecords
	s.Truncated += o.Truncated
	s.ExportedRecords += o.ExportedRecords
	s.ExportedFiles += o.ExportedFiles
	s.TableCommits += o.TableCommits
	s.TableCommitTime += o.TableCommitTime
	s.ArchiveRemoved += o.ArchiveRemoved
	s.Marked += o.Marked
	s.Deleted += o.Deleted
	s.JournalDeleted += o.JournalDeleted
}

// Run runs passes every Interval, and cleaning alone every CleanInterval
// between them, until ctx ends; the agent holding the compactor role calls
// it and cancels ctx when it loses the role. It returns ctx's error. A
// failed pass is logged and retried at the next.
func (c *Compactor) Run(ctx context.Context) error {
	var lastPass time.Time
	for {
		var (
			st  Stats
			err error
		)
		if now := c.opts.Now(); lastPass.IsZero() || now.Sub(lastPass) >= c.opts.Interval {
			lastPass = now
			st, err = c.RunOnce(ctx)
		} else {
			st, err = c.cleanOnly(ctx)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			c.opts.Logger.Warn("compaction pass failed", "err", err)
		} else if st != (Stats{}) {
			c.opts.Logger.Info("compaction pass", "stats", fmt.Sprintf("%+v", st))
		}
		t := time.NewTimer(min(c.opts.Interval, c.opts.CleanInterval))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// RunOnce makes one pass: export, archive retention, retention, cleaning, merging, garbage
// collection and journal housekeeping, in that order (export first, so
// retention never deletes what is not yet exported). Each step's failure
// is returned after the others have run.
func (c *Compactor) RunOnce(ctx context.Context) (Stats, error) {
	var st Stats
	if _, err := c.log.CatchUp(ctx); err != nil {
		return st, fmt.Errorf("catch up with the journal: %w", err)
	}
	if c.prevRefs == nil {
		// The first pass: what is referenced now, so that what this pass
		// replaces is known to have been referenced.
		c.log.View(func(s *journal.State) { c.prevRefs = s.Referenced() })
	}
	var errs []error
	step := func(name string, f func(context.Context) (Stats, error)) {
		if ctx.Err() != nil {
			return
		}
		s, err := f(ctx)
		st.add(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	step("export", c.Export)
	step("archive retention", c.ArchiveRetention)
	step("retention", c.Retention)
	step("clean", c.Clean)
	step("merge", c.Merge)
	step("collect garbage", c.CollectGarbage)
	step("journal housekeeping", c.housekeeping)
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return st, errors.Join(errs...)
}

// cleanOnly cleans the compacted partitions that are due, between passes.
// What it replaces becomes garbage that the next pass collects.
func (c *Compactor) cleanOnly(ctx context.Context) (Stats, error) {
	if _, err := c.log.CatchUp(ctx); err != nil {
		return Stats{}, fmt.Errorf("catch up with the journal: %w", err)
	}
	if c.prevRefs == nil {
		return Stats{}, nil // RunOnce has not run yet
	}
	st, err := c.Clean(ctx)
	if err != nil {
		return st, fmt.Errorf("clean: %w", err)
	}
	return st, nil
}

// proposeOne proposes one command and returns its result. The command
// gets a fresh ID, so a proposer that resends it after an ambiguous failure
// gets the first outcome back (journal.State.Proposals) rather than, say,
// CodeStale for a replacement that was in fact applied.
func (c *Compactor) proposeOne(ctx context.Context, cmd journal.Command) (journal.Result, error) {
	cmd.ID = "compactor-" + randomID()
	res, err := c.propose(ctx, []journal.Command{cmd})
	if err != nil {
		return journal.Result{}, err
	}
	if len(res) != 1 {
		return journal.Result{}, fmt.Errorf("proposer returned %d results for 1 command", len(res))
	}
	return res[0], nil
}

// pace waits, after a step that handled n bytes, long enough to keep to
// MergeRate.
func (c *Compactor) pace(ctx context.Context, n int64) error {
	if c.opts.MergeRate < 0 || n <= 0 {
		return nil
	}
	d := time.Duration(float64(n) / float64(c.opts.MergeRate) * float64(time.Second))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Compactor) progress(p Progress) {
	if c.opts.Progress != nil {
		c.opts.Progress(p)
	}
}

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
