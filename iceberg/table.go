package iceberg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/silt-io/silt/objstore"
)

// Table is one topic's table in a bucket. It is safe for concurrent use,
// and any number of Tables, in any processes, may commit to the same table
// at once: put-if-absent of the next metadata version decides.
type Table struct {
	bucket   objstore.Bucket
	topic    string
	location string // URI of export/<topic>, without a trailing slash
	opts     Options
}

// Options configures a Table.
type Options struct {
	// Location is the URI of the cluster prefix as engines reach it, e.g.
	// "s3://bucket/prefix" or "file:///var/silt". Default: LocationOf the
	// bucket's name.
	Location string
	// Now is the clock of snapshot times; default time.Now.
	Now func() time.Time
	// SnapshotAge is how long a snapshot that is no longer current stays
	// in the table, for time travel and for readers that loaded it; each
	// commit expires those older (and deletes what only they reference).
	// Default 6 hours: at one export a minute, 360 snapshots of metadata.
	SnapshotAge time.Duration
	// MaxManifests is how many manifests a snapshot may list before a
	// commit merges them into one, so planning a scan reads few files.
	// Default 100, Iceberg's commit.manifest.min-count-to-merge.
	MaxManifests int
}

// DefaultSnapshotAge and DefaultMaxManifests are the defaults of Options.
const (
	DefaultSnapshotAge  = 6 * time.Hour
	DefaultMaxManifests = 100
)

// LocationOf returns the URI engines read a bucket at, from its Name:
// minio:// buckets are S3 buckets (s3://), the others keep their scheme.
func LocationOf(bucketName string) string {
	if rest, ok := strings.CutPrefix(bucketName, "minio://"); ok {
		return "s3://" + rest
	}
	return strings.TrimSuffix(bucketName, "/")
}

// Open returns the table of a topic. It does no I/O.
func Open(bucket objstore.Bucket, topic string, opts Options) *Table {
	if opts.Location == "" {
		opts.Location = LocationOf(bucket.Name())
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SnapshotAge <= 0 {
		opts.SnapshotAge = DefaultSnapshotAge
	}
	if opts.MaxManifests <= 0 {
		opts.MaxManifests = DefaultMaxManifests
	}
	return &Table{bucket: bucket, topic: topic, opts: opts,
		location: strings.TrimSuffix(opts.Location, "/") + "/" + strings.TrimSuffix(ExportDir(topic), "/")}
}

// Location returns the table's location URI.
func (t *Table) Location() string { return t.location }

// uri returns the URI of a key under the table's export directory.
func (t *Table) uri(key string) string { return t.location + "/" + trimExportDir(t.topic, key) }

// key returns the bucket key of a URI of this table, or "" if it is not
// one.
func (t *Table) key(uri string) string {
	rel, ok := strings.CutPrefix(uri, t.location+"/")
	if !ok {
		return ""
	}
	return ExportDir(t.topic) + rel
}

// Range is an offset range of a Kafka partition whose files an Append
// adds: every record of [From, To) that exists is in them.
type Range struct {
	Partition int32
	From, To  int64
}

// Commit is what a commit did.
type Commit struct {
	Version    int64 // the metadata version now current
	SnapshotID int64 // the snapshot added, 0 if none
	Files      int   // data files added or removed
}

// maxAttempts bounds the retries of a commit that lost the race for the
// next version to other committers.
const maxAttempts = 20

// Append adds the files of ranges to the table as one snapshot (operation
// append), exactly once: each snapshot records, per partition, the offset
// below which it holds every record (silt.offsets), and a range whose end
// the current snapshot already covers is left out, so committing the same
// ranges again (after a crash, or by a second compactor) adds nothing.
// topicID names the topic the files are of: a table of an earlier topic of
// the same name is emptied by the snapshot.
func (t *Table) Append(ctx context.Context, topicID string, ranges []Range, files []DataFile) (Commit, error) {
	return t.commit(ctx, func(md *Metadata, snapID, seq int64) (*change, error) {
		var prev *Snapshot
		if md != nil && md.Properties[propTopicID] == topicID {
			prev = md.Current()
		}
		offsets := prev.offsets()
		add := map[int32]bool{}
		for _, r := range ranges {
			if offsets[r.Partition] < r.To {
				add[r.Partition] = true
				offsets[r.Partition] = r.To
			}
		}
		if len(add) == 0 {
			return nil, nil
		}
		var entries []manifestEntry
		var bytes, records int64
		for _, f := range files {
			if add[f.Partition] {
				entries = append(entries, entryOf(t.topic, t.location, f, snapID))
				bytes += f.Size
				records += f.Records
			}
		}
		var manifests []manifestFile
		var written []string
		if len(entries) > 0 {
			mf, key, err := t.writeManifest(ctx, snapID, seq, entries)
			if err != nil {
				return nil, err
			}
			manifests, written = append(manifests, mf), append(written, key)
		}
		if prev != nil {
			old, err := t.readManifestList(ctx, prev)
			if err != nil {
				t.cleanup(ctx, written)
				return nil, err
			}
			// A manifest of deleted entries only has recorded its deletions
			// in the snapshot that wrote it; it is not carried on.
			old = slices.DeleteFunc(old, func(m manifestFile) bool {
				return m.AddedFilesCount == 0 && m.ExistingFilesCount == 0
			})
			old, merged, err := t.mergeIfMany(ctx, snapID, seq, old)
			written = append(written, merged...)
			if err != nil {
				t.cleanup(ctx, written)
				return nil, err
			}
			manifests = append(manifests, old...)
		}
		return &change{
			operation: "append", manifests: manifests, written: written, offsets: offsets, topicID: topicID,
			summary: map[string]string{
				"added-data-files": strconv.Itoa(len(entries)),
				"added-records":    strconv.FormatInt(records, 10),
				"added-files-size": strconv.FormatInt(bytes, 10),
			},
			files: len(entries),
		}, nil
	})
}

// change is a new snapshot a commit adds: its operation, every manifest
// of it (already written), and what to put in its summary. written lists
// the objects written for it, deleted if the commit loses.
type change struct {
	operation string
	manifests []manifestFile
	written   []string
	offsets   map[int32]int64
	topicID   string
	summary   map[string]string
	files     int
	// expired lists the snapshots the commit dropped (next fills it).
	expired []Snapshot
}

// commit makes one change to the table: it loads the current metadata
// (version N), asks plan for the change (nil: nothing to do), writes the
// snapshot's manifest list and puts vN+1 if absent. Losing that race, it
// reads vN+1 back: a snapshot id of its own there means an earlier,
// ambiguous attempt won; otherwise it deletes what it wrote and plans
// again on the new state. The version hint is written after, as a hint.
func (t *Table) commit(ctx context.Context, plan func(md *Metadata, snapID, seq int64) (*change, error)) (Commit, error) {
	for range maxAttempts {
		md, ver, _, err := LoadMetadata(ctx, t.bucket, t.topic)
		if errors.Is(err, objstore.ErrNotFound) {
			md, ver = nil, 0
		} else if err != nil {
			return Commit{}, err
		}
		snapID := newSnapshotID()
		seq := int64(1)
		if md != nil {
			seq = md.LastSequenceNumber + 1
		}
		ch, err := plan(md, snapID, seq)
		if err != nil || ch == nil {
			return Commit{Version: ver}, err
		}
		next, err := t.next(ctx, md, ver, snapID, seq, ch)
		if err != nil {
			t.cleanup(ctx, ch.written)
			return Commit{}, err
		}
		data, err := json.Marshal(next)
		if err != nil {
			return Commit{}, fmt.Errorf("encode metadata: %w", err)
		}
		key := metadataKey(t.topic, ver+1)
		_, err = t.bucket.PutIfAbsent(ctx, key, data)
		if err != nil {
			// Whether or not it says so, the put may have succeeded: a
			// lost response, or a retry that met the first attempt.
			won, rerr := t.isOurs(ctx, key, data)
			if rerr == nil && won {
				err = nil
			} else if errors.Is(err, objstore.ErrExists) && rerr == nil {
				t.cleanup(ctx, ch.written)
				continue
			} else {
				// Unknown outcome: leave what was written (vN+1 may refer to
				// it); the next commit finds out from the offsets.
				return Commit{}, fmt.Errorf("put %s: %w", key, err)
			}
		}
		// The hint may lag: readers probe past it.
		_, _ = t.bucket.Put(ctx, versionHintKey(t.topic), []byte(strconv.FormatInt(ver+1, 10)))
		if len(ch.expired) > 0 {
			// Committed: what only the expired snapshots referenced can go.
			// A failure leaves garbage, never a broken table.
			if err := t.deleteExpired(ctx, next, ch.expired); err != nil {
				return Commit{Version: ver + 1, SnapshotID: snapID, Files: ch.files}, fmt.Errorf("committed, but cleaning up expired snapshots: %w", err)
			}
		}
		return Commit{Version: ver + 1, SnapshotID: snapID, Files: ch.files}, nil
	}
	return Commit{}, fmt.Errorf("commit to table %s: lost %d times to other committers", t.topic, maxAttempts)
}

// isOurs reports whether the metadata at key is the one this commit wrote.
func (t *Table) isOurs(ctx context.Context, key string, data []byte) (bool, error) {
	got, err := readLimited(ctx, t.bucket, key, maxMetadataBytes)
	if err != nil {
		return false, err
	}
	return bytes.Equal(got, data), nil
}

// cleanup deletes objects a lost commit wrote; a failure leaves garbage,
// never a broken table.
func (t *Table) cleanup(ctx context.Context, keys []string) {
	for _, k := range keys {
		_ = t.bucket.Delete(ctx, k)
	}
}

// next returns the metadata after ch: the new snapshot, its manifest list
// written, made current.
func (t *Table) next(ctx context.Context, md *Metadata, ver, snapID, seq int64, ch *change) (*Metadata, error) {
	nowMs := t.opts.Now().UnixMilli()
	var n *Metadata
	if md == nil || (ch.topicID != "" && md.Properties[propTopicID] != ch.topicID) {
		n = newMetadata(t.location, ch.topicID, nowMs)
		if md != nil {
			// A topic of the same name before: its history stays readable
			// in the old versions' files, not in this table's snapshots.
			n.LastSequenceNumber = md.LastSequenceNumber
			n.TableUUID = md.TableUUID
		}
	} else {
		c := *md
		c.Properties = maps.Clone(md.Properties)
		c.Refs = maps.Clone(md.Refs)
		c.Snapshots = slices.Clone(md.Snapshots)
		c.SnapshotLog = slices.Clone(md.SnapshotLog)
		c.MetadataLog = slices.Clone(md.MetadataLog)
		n = &c
	}
	if md != nil {
		n.MetadataLog = append(n.MetadataLog, MetadataLog{TimestampMs: md.LastUpdatedMs,
			MetadataFile: t.uri(metadataKey(t.topic, ver))})
		if len(n.MetadataLog) > maxMetadataLog {
			n.MetadataLog = n.MetadataLog[len(n.MetadataLog)-maxMetadataLog:]
		}
	}
	n.LastUpdatedMs = nowMs
	{
		listKey := fmt.Sprintf("%ssnap-%d-1-%s.avro", metadataDir(t.topic), snapID, newUUID())
		data, err := encodeManifestList(snapID, n.CurrentSnapshotID, seq, ch.manifests)
		if err != nil {
			return nil, err
		}
		if _, err := t.bucket.Put(ctx, listKey, data); err != nil {
			return nil, fmt.Errorf("write manifest list %s: %w", listKey, err)
		}
		ch.written = append(ch.written, listKey)
		summary := map[string]string{"operation": ch.operation, summaryOffsets: formatOffsets(ch.offsets)}
		maps.Copy(summary, ch.summary)
		var files, records int64
		for _, m := range ch.manifests {
			files += int64(m.AddedFilesCount + m.ExistingFilesCount)
			records += m.AddedRowsCount + m.ExistingRowsCount
		}
		summary["total-data-files"] = strconv.FormatInt(files, 10)
		summary["total-records"] = strconv.FormatInt(records, 10)
		summary["total-delete-files"] = "0"
		summary["total-position-deletes"] = "0"
		summary["total-equality-deletes"] = "0"
		s := Snapshot{SnapshotID: snapID, SequenceNumber: seq, TimestampMs: nowMs,
			ManifestList: t.uri(listKey), Summary: summary}
		if n.CurrentSnapshotID > 0 {
			s.ParentSnapshotID = n.CurrentSnapshotID
		}
		n.Snapshots = append(n.Snapshots, s)
		n.SnapshotLog = append(n.SnapshotLog, SnapshotLog{TimestampMs: nowMs, SnapshotID: snapID})
		n.CurrentSnapshotID = snapID
		n.Refs["main"] = Ref{SnapshotID: snapID, Type: "branch"}
		n.LastSequenceNumber = seq
	}
	ch.expired = expire(n, nowMs-t.opts.SnapshotAge.Milliseconds())
	return n, nil
}

// maxMetadataLog bounds the previous metadata files a version lists.
const maxMetadataLog = 100

// writeManifest writes a manifest of entries for snapshot snapID and
// returns its manifest list row and key.
func (t *Table) writeManifest(ctx context.Context, snapID, seq int64, entries []manifestEntry) (manifestFile, string, error) {
	data, err := encodeManifest(entries)
	if err != nil {
		return manifestFile{}, "", err
	}
	key := fmt.Sprintf("%s%s-m0.avro", metadataDir(t.topic), newUUID())
	if _, err := t.bucket.Put(ctx, key, data); err != nil {
		return manifestFile{}, "", fmt.Errorf("write manifest %s: %w", key, err)
	}
	return summarize(t.uri(key), int64(len(data)), snapID, seq, entries), key, nil
}

// readManifestList returns the manifests of a snapshot.
func (t *Table) readManifestList(ctx context.Context, s *Snapshot) ([]manifestFile, error) {
	key := t.key(s.ManifestList)
	if key == "" {
		return nil, fmt.Errorf("snapshot %d: manifest list %s is outside the table's location %s", s.SnapshotID, s.ManifestList, t.location)
	}
	data, err := readLimited(ctx, t.bucket, key, maxManifestBytes)
	if err != nil {
		return nil, fmt.Errorf("read manifest list %s: %w", key, err)
	}
	return decodeAll[manifestFile](data, manifestFileSchema, "manifest list "+key)
}

// readManifest returns the entries of a manifest.
func (t *Table) readManifest(ctx context.Context, m manifestFile) ([]manifestEntry, error) {
	key := t.key(m.ManifestPath)
	if key == "" {
		return nil, fmt.Errorf("manifest %s is outside the table's location %s", m.ManifestPath, t.location)
	}
	data, err := readLimited(ctx, t.bucket, key, maxManifestBytes)
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", key, err)
	}
	return decodeAll[manifestEntry](data, manifestEntrySchema, "manifest "+key)
}

// Files returns the keys of the data files of the current snapshot, with
// their record counts: what a reader of the table reads.
func (t *Table) Files(ctx context.Context) (map[string]int64, error) {
	md, _, _, err := LoadMetadata(ctx, t.bucket, t.topic)
	if err != nil {
		return nil, err
	}
	return t.snapshotFiles(ctx, md.Current())
}

// snapshotFiles returns the live data files of a snapshot.
func (t *Table) snapshotFiles(ctx context.Context, s *Snapshot) (map[string]int64, error) {
	out := map[string]int64{}
	if s == nil {
		return out, nil
	}
	mfs, err := t.readManifestList(ctx, s)
	if err != nil {
		return nil, err
	}
	for _, m := range mfs {
		entries, err := t.readManifest(ctx, m)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Status == statusDeleted {
				continue
			}
			k := t.key(e.DataFile.FilePath)
			if _, dup := out[k]; dup {
				return nil, fmt.Errorf("snapshot %d lists data file %s twice", s.SnapshotID, k)
			}
			out[k] = e.DataFile.RecordCount
		}
	}
	return out, nil
}
