// Package compaction is silt's compactor: it merges small chunks into
// larger per-partition objects, enforces retention, cleans compacted
// topics, exports topics to Parquet, and deletes what nothing references,
// journal entries included.
//
// # Who runs it
//
// One compactor at a time per cluster: the agent that holds the compactor
// role (rendezvous hashing over live members) calls Compactor.Run and
// cancels its context when it loses the role; `silt compact` and
// `silt export` run one against a bucket with no agent, or beside agents.
// Two compactors at once (a split view of membership, or a tool beside an
// agent) cost wasted work, never correctness: every decision is a journal
// command that names the state it was computed from and is refused
// (journal.CodeStale) if that state moved, and objects are written under
// fresh names before any command refers to them.
//
// # A pass
//
// RunOnce catches up with the journal and then, in this order:
//
//  1. Export: partitions of exported topics whose archive is due get their
//     next offset range written as Parquet (see Export and ExportRow), and
//     each topic's files of the pass are committed to its Iceberg table as
//     one snapshot (package iceberg). Then archive retention, if set, takes
//     hours older than ArchiveRetention out of the tables.
//  2. Retention: DeleteRecords for partitions past retention.ms or
//     retention.bytes (whole chunks, as Kafka deletes whole segments; never
//     past what is exported).
//  3. Clean: compacted topics whose dirty part is due are rewritten to the
//     latest record per key (see clean.go).
//  4. Merge: runs of small chunks become one object each.
//  5. Garbage: objects nothing references are marked in the journal, and
//     deleted a grace period after the entry that marked them.
//  6. Journal housekeeping: entries and snapshots covered by a snapshot
//     older than JournalRetention are deleted (journal.Log.DeleteCovered).
//
// # Merging, and why merged objects are ordinary segments
//
// An agent writes one segment per flush holding a chunk for every
// partition it buffered, so a partition's history is spread over many
// small chunks, one ranged GET each for a cold reader. Merge rewrites a
// run of a partition's consecutive small chunks (each under half of
// MergeTarget, together at most MergeTarget, uploaded within MergeWindow of
// each other) as the single chunk of a new segment (segment.Build), and
// commits journal.ReplaceChunks naming the exact run it read.
//
// A merged object is an ordinary segment, and its chunk an ordinary chunk,
// so the agent's fetch path reads it unchanged: one ranged GET, DecodeChunk,
// then recordbatch.Patch, which gives each batch BaseOffset = the chunk's
// base plus the offsets taken by the batches before it. Merging therefore
// concatenates the source chunks' batches in order, leaving out the
// batches each source's Skip list names (rejected duplicates), and the new
// chunk has the first source's BaseOffset, the last one's NextOffset and no
// Skip: patching it gives every batch the offset it had. The batches are
// stored with their real offsets (ReadChunk patched them), which the fetch
// path overwrites with the same values. Compacted chunks keep the same
// rule by making each batch's offset span (LastOffsetDelta) cover the
// records dropped around it.
//
// Replacing is atomic at one journal entry: a fetch planned before it
// reads the old chunks, which stay in the bucket at least Grace longer; a
// fetch planned after reads the new one. Offsets never change, so neither
// sees a hole or a duplicate. If the partition changed meanwhile (retention,
// DeleteRecords, a topic recreated, another compactor), ReplaceChunks is
// refused and the new object, which nothing references, is deleted.
//
// The rejected alternative was a separate per-partition object format
// holding many chunks with its own index. It would save the one-chunk
// limit of a segment's index (a partition appears once per segment) but
// needs a second reader in the fetch path; a merged chunk of 64 MiB is
// already 16 GETs per GiB.
//
// # Garbage
//
// An object becomes garbage when its last chunk leaves the state. The
// compactor proposes candidates (objects it replaced or dropped, objects
// that left the referenced set since its last pass, and listed objects
// older than OrphanAge that nothing references); MarkGarbage keeps those
// still unreferenced when it is applied, stamped with the entry's time, so
// the grace period is counted from a time every agent agrees on. A segment
// younger than OrphanAge that was never referenced may still be waiting
// for its commit, so it is never a candidate.
//
// # Exactly-once export
//
// See Export. The exported offset of each partition lives in the journal
// (journal.CompactionProgress); a range is fixed (BeginExport) before any
// file is written and committed (CommitExport) only from that range, and
// files are named by the offsets they hold, so a compactor that dies and
// one that takes over write the same files, once. Between the files and
// CommitExport the topic's Iceberg table is committed; each snapshot
// records the offsets it covers, so the table adds a range's files once
// too (iceberg.Table.Append).
package compaction
