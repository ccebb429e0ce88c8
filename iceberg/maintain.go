package iceberg

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/silt-io/silt/objstore"
)

// Keeping a table small: snapshots expire after Options.SnapshotAge,
// manifests are merged past Options.MaxManifests, and RemoveBefore takes
// archived hours out of the table by a new snapshot (operation delete,
// no delete files), never by editing old metadata. A data file leaves the
// bucket only when the last snapshot that lists it has expired.

// expire drops from n the snapshots older than cutoffMs that precede the
// current one, oldest first, so the snapshots kept are a contiguous chain
// ending at the current one, and returns those dropped.
func expire(n *Metadata, cutoffMs int64) []Snapshot {
	i := 0
	for i < len(n.Snapshots) && n.Snapshots[i].SnapshotID != n.CurrentSnapshotID && n.Snapshots[i].TimestampMs < cutoffMs {
		i++
	}
	if i == 0 {
		return nil
	}
	expired := append([]Snapshot(nil), n.Snapshots[:i]...)
	n.Snapshots = append([]Snapshot(nil), n.Snapshots[i:]...)
	gone := map[int64]bool{}
	for _, s := range expired {
		gone[s.SnapshotID] = true
	}
	log := n.SnapshotLog[:0:0]
	for _, l := range n.SnapshotLog {
		if !gone[l.SnapshotID] {
			log = append(log, l)
		}
	}
	n.SnapshotLog = log
	return expired
}

// deleteExpired deletes what only the expired snapshots referenced, once
// n (which no longer lists them) is committed: their manifest lists, the
// manifests the oldest snapshot kept does not list (snapshots form one
// chain, and a manifest left out of a snapshot never comes back), and the
// data files removed by a kept or expired snapshot whose parent expired.
func (t *Table) deleteExpired(ctx context.Context, n *Metadata, expired []Snapshot) error {
	if len(n.Snapshots) == 0 {
		return nil
	}
	oldest := n.Snapshots[0]
	liveList, err := t.readManifestList(ctx, &oldest)
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, m := range liveList {
		live[m.ManifestPath] = true
	}
	gone := map[int64]bool{}
	for _, s := range expired {
		gone[s.SnapshotID] = true
	}
	var keys []string
	seen := map[string]bool{}
	drop := func(uri string) {
		if k := t.key(uri); k != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for _, s := range append(expired[1:len(expired):len(expired)], oldest) {
		if !gone[s.ParentSnapshotID] || (s.Summary["operation"] != "delete" && s.Summary["operation"] != "overwrite") {
			continue
		}
		// The files s removed were last listed by its parent, now gone.
		mfs, err := t.readManifestList(ctx, &s)
		if err != nil {
			return err
		}
		for _, m := range mfs {
			if m.AddedSnapshotID != s.SnapshotID || m.DeletedFilesCount == 0 {
				continue
			}
			entries, err := t.readManifest(ctx, m)
			if err != nil {
				return err
			}
			for _, e := range entries {
				if e.Status == statusDeleted {
					drop(e.DataFile.FilePath)
				}
			}
		}
	}
	for _, s := range expired {
		mfs, err := t.readManifestList(ctx, &s)
		if err != nil && !errors.Is(err, objstore.ErrNotFound) {
			return err
		}
		for _, m := range mfs {
			if !live[m.ManifestPath] {
				drop(m.ManifestPath)
			}
		}
		drop(s.ManifestList)
	}
	for _, k := range keys {
		if err := t.bucket.Delete(ctx, k); err != nil {
			return fmt.Errorf("delete %s: %w", k, err)
		}
	}
	return nil
}

// explicit returns e with its sequence numbers and snapshot id written out
// (inherited from m where null), as the spec requires of an entry carried
// into a new manifest, with the given status.
func explicit(e manifestEntry, m manifestFile, status int32) manifestEntry {
	if e.SequenceNumber == nil {
		s := m.SequenceNumber
		e.SequenceNumber = &s
	}
	if e.FileSequenceNumber == nil {
		s := m.SequenceNumber
		e.FileSequenceNumber = &s
	}
	if e.SnapshotID == nil {
		id := m.AddedSnapshotID
		e.SnapshotID = &id
	}
	e.Status = status
	return e
}

// mergeIfMany returns manifests as they are if a snapshot adding one more
// stays within MaxManifests; else it merges their live entries into one
// manifest (status existing) and returns that, with the keys it wrote.
func (t *Table) mergeIfMany(ctx context.Context, snapID, seq int64, manifests []manifestFile) ([]manifestFile, []string, error) {
	if len(manifests)+1 <= t.opts.MaxManifests {
		return manifests, nil, nil
	}
	var entries []manifestEntry
	for _, m := range manifests {
		es, err := t.readManifest(ctx, m)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range es {
			if e.Status != statusDeleted {
				entries = append(entries, explicit(e, m, statusExisting))
			}
		}
	}
	mf, key, err := t.writeManifest(ctx, snapID, seq, entries)
	if err != nil {
		return nil, nil, err
	}
	return []manifestFile{mf}, []string{key}, nil
}

// RemoveBefore takes the data files of the hours before hour (Iceberg's
// hour transform: hours since the epoch) out of the table, as one
// snapshot with operation delete and no delete files: the manifests
// holding them are rewritten with those entries marked deleted, the others
// kept. The files stay in the bucket until that snapshot's parent expires
// (see Options.SnapshotAge), so readers of older snapshots find them.
func (t *Table) RemoveBefore(ctx context.Context, hour int32) (Commit, error) {
	return t.commit(ctx, func(md *Metadata, snapID, seq int64) (*change, error) {
		if md == nil || md.Current() == nil {
			return nil, nil
		}
		prev := md.Current()
		mfs, err := t.readManifestList(ctx, prev)
		if err != nil {
			return nil, err
		}
		var out []manifestFile
		var written []string
		var files, records int64
		for _, m := range mfs {
			if len(m.Partitions) > 0 && len(m.Partitions[0].LowerBound) == 4 &&
				int32(binary.LittleEndian.Uint32(m.Partitions[0].LowerBound)) >= hour {
				out = append(out, m) // its summary says it holds no hour before
				continue
			}
			es, err := t.readManifest(ctx, m)
			if err != nil {
				t.cleanup(ctx, written)
				return nil, err
			}
			var rewritten []manifestEntry
			hit := false
			for _, e := range es {
				switch {
				case e.Status == statusDeleted:
					continue // recorded by an earlier snapshot
				case e.DataFile.Partition.TimestampHour != nil && *e.DataFile.Partition.TimestampHour < hour:
					rewritten = append(rewritten, explicit(e, m, statusDeleted))
					rewritten[len(rewritten)-1].SnapshotID = &snapID
					files++
					records += e.DataFile.RecordCount
					hit = true
				default:
					rewritten = append(rewritten, explicit(e, m, statusExisting))
				}
			}
			if !hit {
				out = append(out, m)
				continue
			}
			nm, key, err := t.writeManifest(ctx, snapID, seq, rewritten)
			if err != nil {
				t.cleanup(ctx, written)
				return nil, err
			}
			out, written = append(out, nm), append(written, key)
		}
		if files == 0 {
			return nil, nil
		}
		return &change{
			operation: "delete", manifests: out, written: written, offsets: prev.offsets(),
			topicID: md.Properties[propTopicID], files: int(files),
			summary: map[string]string{
				"deleted-data-files": strconv.FormatInt(files, 10),
				"deleted-records":    strconv.FormatInt(records, 10),
			},
		}, nil
	})
}
