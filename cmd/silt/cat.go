package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/silt-io/silt/compaction"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore"
)

func init() {
	commands["cat"] = command{summary: "print a topic's records straight from the bucket (no agent needed)", run: runCat}
}

// catOptions selects what `silt cat` prints.
type catOptions struct {
	topic     string
	partition int32 // -1: all
	from      int64 // first offset, per partition
	since     time.Time
	toOffset  int64 // 0: none; stop before this offset
	toTime    time.Time
	format    string // json or raw
	// uncommitted prints what a read_uncommitted consumer reads: the
	// records of open and aborted transactions too. By default only
	// committed records are printed, as read_committed reads them.
	uncommitted bool
}

func runCat(ctx context.Context, args []string) error {
	fs := pflag.NewFlagSet("silt cat", pflag.ContinueOnError)
	var (
		bf              bucketFlags
		lf              logFlags
		o               catOptions
		from, since, to string
		output          string
	)
	bf.register(fs)
	lf.register(fs)
	fs.StringVar(&o.topic, "topic", "", "the topic to print (required)")
	fs.Int32Var(&o.partition, "partition", -1, "only this partition (default: all, one after the other)")
	fs.StringVar(&from, "from", "", "start at this offset in each partition (default: the log start)")
	fs.StringVar(&since, "since", "", "start at the first record at or after this time: RFC 3339, a date (2006-01-02), or a duration ago (1h)")
	fs.StringVar(&to, "to", "", "stop before this offset, or at the first record at or after this time")
	fs.BoolVar(&o.uncommitted, "read-uncommitted", false, "also print the records of open and aborted transactions (default: committed records only, as a read_committed consumer reads)")
	fs.StringVar(&o.format, "format", "json", "json: one object per line (topic, partition, offset, timestamp, key, value, headers); raw: each value and a newline")
	fs.StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if o.topic == "" {
		return errors.New("--topic is required")
	}
	if o.format != "json" && o.format != "raw" {
		return fmt.Errorf("--format %q: want json or raw", o.format)
	}
	if from != "" && since != "" {
		return errors.New("--from and --since: give one")
	}
	now := time.Now()
	var err error
	if from != "" {
		if o.from, err = strconv.ParseInt(from, 10, 64); err != nil || o.from < 0 {
			return fmt.Errorf("--from %q: want an offset", from)
		}
	}
	if since != "" {
		if o.since, err = parseTime(since, now); err != nil {
			return fmt.Errorf("--since: %w", err)
		}
	}
	if to != "" {
		if n, err := strconv.ParseInt(to, 10, 64); err == nil && n >= 0 {
			o.toOffset = n
			if n == 0 {
				return nil // nothing before offset 0
			}
		} else if o.toTime, err = parseTime(to, now); err != nil {
			return fmt.Errorf("--to: %w", err)
		}
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

	out := io.Writer(os.Stdout)
	toFile := isRegularFile(os.Stdout)
	if output != "" {
		f, err := os.Create(output)
		if err != nil {
			return err
		}
		defer f.Close()
		out, toFile = f, true
	}
	var prog *progress
	if toFile {
		prog = startProgress("cat")
		defer prog.stop()
	}
	w := bufio.NewWriterSize(out, 1<<20)
	if err := catTopic(ctx, bucket, log, o, w, prog); err != nil {
		return err
	}
	return w.Flush()
}

// parseTime reads an RFC 3339 time, a date, unix milliseconds, or a
// duration before now.
func parseTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time, a date (2006-01-02) or a duration (1h30m)", s)
}

// catTopic writes the selected records of o.topic to w, partition after
// partition, in offset order. prog, if not nil, counts them.
func catTopic(ctx context.Context, bucket objstore.Bucket, log *slog.Logger, o catOptions, w io.Writer, prog *progress) error {
	jl, err := journal.Open(ctx, bucket, journal.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("read the journal in %s: %w", bucket.Name(), err)
	}
	type part struct {
		index   int32
		start   int64
		end     int64 // the last stable offset, or -1 (no bound)
		aborted []journal.AbortedTxn
		chunks  []journal.Chunk
	}
	var parts []part
	found := false
	jl.View(func(s *journal.State) {
		t := s.Topic(o.topic)
		if t == nil {
			return
		}
		found = true
		for i, p := range t.Partitions {
			if o.partition >= 0 && int32(i) != o.partition {
				continue
			}
			pt := part{index: int32(i), start: p.StartOffset, end: -1}
			if !o.uncommitted {
				pt.end, pt.aborted = p.LastStable(), append([]journal.AbortedTxn(nil), p.Aborted...)
			}
			if !o.since.IsZero() {
				// The first chunk that may hold a record at or after since.
				if c, ok := p.OffsetForTimestamp(o.since.UnixMilli()); ok {
					pt.chunks = append(pt.chunks, p.Chunks[c:]...)
				}
			} else {
				pt.chunks = append(pt.chunks, p.Chunks...)
			}
			parts = append(parts, pt)
		}
	})
	if !found {
		return fmt.Errorf("topic %q does not exist in %s", o.topic, bucket.Name())
	}
	if o.partition >= 0 && len(parts) == 0 {
		return fmt.Errorf("topic %q has no partition %d", o.topic, o.partition)
	}
	enc := newRecordEncoder(o.topic, o.format)
	stop := errors.New("stop")
	for _, pt := range parts {
		if pt.end == 0 {
			continue // nothing committed yet (ScanOptions.To 0 is no bound)
		}
		started := o.since.IsZero()
		err := compaction.Scan(ctx, compaction.BucketReader(bucket), pt.chunks,
			compaction.ScanOptions{From: max(o.from, pt.start), To: catEnd(o.toOffset, pt.end), Aborted: pt.aborted},
			func(r *compaction.Record) error {
				if !started {
					if r.Timestamp < o.since.UnixMilli() {
						return nil
					}
					started = true
				}
				if !o.toTime.IsZero() && r.Timestamp >= o.toTime.UnixMilli() {
					return stop
				}
				n, err := enc.write(w, pt.index, r)
				if prog != nil {
					prog.add(1, int64(n))
				}
				return err
			})
		if err != nil && err != stop {
			return fmt.Errorf("partition %d: %w", pt.index, err)
		}
	}
	return nil
}

// catEnd is the offset a partition's print stops before: the --to offset
// (0: none) or the last stable offset (-1: none), whichever is first.
func catEnd(to, lso int64) int64 {
	switch {
	case lso < 0:
		return to
	case to == 0:
		return lso
	}
	return min(to, lso)
}

// recordEncoder writes records as `silt cat` prints them.
type recordEncoder struct {
	topic  string
	format string
	buf    []byte
}

func newRecordEncoder(topic, format string) *recordEncoder {
	return &recordEncoder{topic: topic, format: format}
}

// catRecord is the JSON form of a record. Keys, values and header values
// are strings when they are valid UTF-8; otherwise they are given in the
// field of the same name with a _base64 suffix. Null stays null.
type catRecord struct {
	Topic       string      `json:"topic"`
	Partition   int32       `json:"partition"`
	Offset      int64       `json:"offset"`
	Timestamp   int64       `json:"timestamp"`
	Key         *string     `json:"key"`
	KeyBase64   string      `json:"key_base64,omitempty"`
	Value       *string     `json:"value"`
	ValueBase64 string      `json:"value_base64,omitempty"`
	Headers     []catHeader `json:"headers"`
}

type catHeader struct {
	Key         string  `json:"key"`
	Value       *string `json:"value"`
	ValueBase64 string  `json:"value_base64,omitempty"`
}

// textOrBase64 returns b as a string pointer when it is UTF-8, else its
// base64 form; nil bytes are null.
func textOrBase64(b []byte) (*string, string) {
	if b == nil {
		return nil, ""
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, ""
	}
	return nil, base64.StdEncoding.EncodeToString(b)
}

func (e *recordEncoder) write(w io.Writer, partition int32, r *compaction.Record) (int, error) {
	if e.format == "raw" {
		e.buf = append(append(e.buf[:0], r.Value...), '\n')
		return w.Write(e.buf)
	}
	cr := catRecord{Topic: e.topic, Partition: partition, Offset: r.Offset, Timestamp: r.Timestamp, Headers: []catHeader{}}
	cr.Key, cr.KeyBase64 = textOrBase64(r.Key)
	cr.Value, cr.ValueBase64 = textOrBase64(r.Value)
	for _, h := range r.Headers {
		ch := catHeader{Key: h.Key}
		ch.Value, ch.ValueBase64 = textOrBase64(h.Value)
		cr.Headers = append(cr.Headers, ch)
	}
	b, err := json.Marshal(&cr)
	if err != nil {
		return 0, err
	}
	e.buf = append(append(e.buf[:0], b...), '\n')
	return w.Write(e.buf)
}

// isRegularFile reports whether f is a regular file (output redirected to
// a file rather than a terminal or a pipe).
func isRegularFile(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode().IsRegular()
}

// isTerminal reports whether f is a character device: a terminal.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress prints a one-line count on standard error twice a second, only
// when standard error is a terminal: long commands show what they do
// there and stay quiet in pipes, logs and CI.
type progress struct {
	what    string
	records atomic.Int64
	bytes   atomic.Int64
	note    atomic.Value // string
	start   time.Time
	done    chan struct{}
	stopped chan struct{}
}

// startProgress starts the display; it returns nil (a no-op progress) when
// standard error is not a terminal.
func startProgress(what string) *progress {
	if !isTerminal(os.Stderr) {
		return nil
	}
	p := &progress{what: what, start: time.Now(), done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				p.print()
				fmt.Fprintln(os.Stderr)
				return
			case <-t.C:
				p.print()
			}
		}
	}()
	return p
}

func (p *progress) print() {
	secs := max(time.Since(p.start).Seconds(), 0.001)
	mb := float64(p.bytes.Load()) / 1e6
	note, _ := p.note.Load().(string)
	fmt.Fprintf(os.Stderr, "\r\033[K%s: %d records, %.1f MB, %.1f MB/s %s", p.what, p.records.Load(), mb, mb/secs, strings.TrimSpace(note))
}

// add counts records and bytes; safe on a nil progress.
func (p *progress) add(records, bytes int64) {
	if p == nil {
		return
	}
	p.records.Add(records)
	p.bytes.Add(bytes)
}

// set shows a note after the counts; safe on a nil progress.
func (p *progress) set(note string) {
	if p == nil {
		return
	}
	p.note.Store(note)
}

// stop prints the final line; safe on a nil progress.
func (p *progress) stop() {
	if p == nil {
		return
	}
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	<-p.stopped
}
