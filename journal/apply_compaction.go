package journal

// The compactor's commands.
//
// The compactor (package compaction) rewrites a partition's chunks into
// larger objects, cleans compacted topics, exports to Parquet and deletes
// what nothing references. Everything it decides goes through the journal,
// so agents switch from the old chunks to the new ones at one entry, and a
// compactor that dies and is replaced by another leaves nothing half done:
//
//   - ReplaceChunks swaps a run of a partition's chunks for new ones
//     covering exactly the same offsets. It names the run it read, and is
//     refused (CodeStale) if the partition's chunks are no longer exactly
//     that run: a concurrent DeleteRecords, retention or another compactor
//     changed them, and the new object is simply not used.
//   - MarkGarbage records, with the entry time, objects that nothing
//     references; ForgetGarbage drops them from the list once deleted. The
//     compactor deletes an object only a grace period after the entry that
//     marked it, so fetches planned against an older state finish first.
//   - BeginExport and CommitExport bracket the export of an offset range of
//     a partition. Begin fixes the range in the journal before any file is
//     written, so a compactor taking over re-exports exactly that range to
//     the same file names; Commit advances the exported offset only from the
//     expected previous value, so each record is exported once whatever
//     fails.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// CodeStale is the result code of a compactor command that names a state
// that has changed since the compactor read it (chunks replaced or
// deleted, export progress moved): like a stale leader epoch, it fences the
// proposer, and nothing is applied. It is FENCED_LEADER_EPOCH (74).
const CodeStale int16 = 74

// ReplaceChunks replaces the run of a partition's chunks named by Old with
// New, which must cover the same offsets, Old's first BaseOffset to Old's
// last NextOffset, contiguously. The records keep their offsets: merging
// concatenates batches, and cleaning a compacted topic keeps each batch's
// offset span (recordbatch.Encode keeps LastOffsetDelta).
type ReplaceChunks struct {
	Topic     string     `json:"topic"`
	TopicID   TopicID    `json:"topic_id"`
	Partition int32      `json:"part"`
	Old       []ChunkRef `json:"old"`
	New       []Chunk    `json:"new"`
	// Cleaned, if above the partition's cleaned offset, becomes it: the
	// offsets below it of a compacted topic have been cleaned.
	Cleaned int64 `json:"cleaned,omitempty"`
	// DropAborted are the offsets of abort markers the cleaner left out
	// of New (their transactions' records are gone too): their entries
	// leave the partition's aborted-transaction index, so that no
	// read_committed reader is told of a range whose marker it will never
	// meet. Each must lie in the replaced offsets.
	DropAborted []int64 `json:"drop_aborted,omitempty"`
}

// ChunkRef names a committed chunk exactly: its object, position and
// offsets.
type ChunkRef struct {
	Object     string `json:"obj"`
	Pos        int64  `json:"pos"`
	BaseOffset int64  `json:"base"`
	NextOffset int64  `json:"next"`
}

// RefOf returns the reference of a chunk.
func RefOf(c *Chunk) ChunkRef {
	return ChunkRef{Object: c.Object, Pos: c.Pos, BaseOffset: c.BaseOffset, NextOffset: c.NextOffset}
}

// MarkGarbage records Objects that no chunk references as garbage, at the
// entry's time. Objects still referenced, or already marked, are left as
// they are, so a compactor may propose candidates freely.
type MarkGarbage struct {
	Objects []string `json:"objs"`
}

// ForgetGarbage removes Objects, which the compactor has deleted, from the
// garbage list.
type ForgetGarbage struct {
	Objects []string `json:"objs"`
}

// BeginExport fixes the next range of a partition to export, [From, To).
// It is refused with CodeStale unless the partition's exported offset is
// Prev and no range is pending. From may be above Prev only where the
// records between were deleted (From at most the log start offset).
type BeginExport struct {
	Topic     string  `json:"topic"`
	TopicID   TopicID `json:"topic_id"`
	Partition int32   `json:"part"`
	Prev      int64   `json:"prev"`
	From      int64   `json:"from"`
	To        int64   `json:"to"`
}

// CommitExport records that the pending range [From, To) is exported: the
// partition's exported offset becomes To. It is refused with CodeStale
// unless that range is the pending one.
type CommitExport struct {
	Topic     string  `json:"topic"`
	TopicID   TopicID `json:"topic_id"`
	Partition int32   `json:"part"`
	From      int64   `json:"from"`
	To        int64   `json:"to"`
}

// CompactionProgress is the compactor's bookkeeping for one partition.
type CompactionProgress struct {
	// Exported is the offset below which records are exported.
	Exported int64 `json:"exported,omitempty"`
	// ExportFrom and ExportTo are the pending export range, if ExportTo
	// is not 0.
	ExportFrom int64 `json:"export_from,omitempty"`
	ExportTo   int64 `json:"export_to,omitempty"`
	// ExportTime is the entry time (ms) of the last CommitExport.
	ExportTime int64 `json:"export_time,omitempty"`
	// Cleaned is the offset below which a compacted topic was cleaned.
	Cleaned int64 `json:"cleaned,omitempty"`
}

// Progress returns the compactor's progress on a partition, the zero value
// if none was recorded. The result is a copy.
func (s *State) Progress(id TopicID, partition int32) CompactionProgress {
	if p := s.Compaction[id][partition]; p != nil {
		return *p
	}
	return CompactionProgress{}
}

// progress returns the partition's progress record, creating it, and
// drops the records of topics that no longer exist.
func (s *State) progress(id TopicID, partition int32) *CompactionProgress {
	for tid := range s.Compaction {
		if s.byID[tid] == nil {
			delete(s.Compaction, tid)
		}
	}
	parts := s.Compaction[id]
	if parts == nil {
		parts = map[int32]*CompactionProgress{}
		s.Compaction[id] = parts
	}
	p := parts[partition]
	if p == nil {
		p = &CompactionProgress{}
		parts[partition] = p
	}
	return p
}

// partitionByID returns the partition if the topic exists with that id.
func (s *State) partitionByID(topic string, id TopicID, partition int32) *Partition {
	t := s.Topics[topic]
	if t == nil || t.ID != id || partition < 0 || int(partition) >= len(t.Partitions) {
		return nil
	}
	return t.Partitions[partition]
}

func (s *State) replaceChunks(c *ReplaceChunks) Result {
	p := s.partitionByID(c.Topic, c.TopicID, c.Partition)
	if p == nil {
		return Result{Code: kerr.UnknownTopicOrPartition.Code}
	}
	if len(c.Old) == 0 || len(c.New) == 0 || !validNewChunks(c) {
		return Result{Code: kerr.InvalidRequest.Code}
	}
	i := 0
	for i < len(p.Chunks) && RefOf(&p.Chunks[i]) != c.Old[0] {
		i++
	}
	if i+len(c.Old) > len(p.Chunks) {
		return Result{Code: CodeStale}
	}
	for j := range c.Old {
		if RefOf(&p.Chunks[i+j]) != c.Old[j] {
			return Result{Code: CodeStale}
		}
	}
	from, to := c.Old[0].BaseOffset, c.Old[len(c.Old)-1].NextOffset
	for _, off := range c.DropAborted {
		if off < from || off >= to {
			return Result{Code: kerr.InvalidRequest.Code}
		}
	}
	chunks := make([]Chunk, 0, len(p.Chunks)-len(c.Old)+len(c.New))
	chunks = append(chunks, p.Chunks[:i]...)
	for _, n := range c.New {
		n.Skip = append([]int32(nil), n.Skip...)
		chunks = append(chunks, n)
	}
	chunks = append(chunks, p.Chunks[i+len(c.Old):]...)
	p.Chunks = chunks
	if len(c.DropAborted) > 0 {
		p.Aborted = slices.DeleteFunc(p.Aborted, func(a AbortedTxn) bool { return slices.Contains(c.DropAborted, a.LastOffset) })
		if len(p.Aborted) == 0 {
			p.Aborted = nil
		}
	}
	if c.Cleaned > 0 {
		if pr := s.progress(c.TopicID, c.Partition); c.Cleaned > pr.Cleaned {
			pr.Cleaned = min(c.Cleaned, p.NextOffset)
		}
	}
	return Result{}
}

// validNewChunks checks that New covers Old's offsets contiguously and
// that each chunk is well formed.
func validNewChunks(c *ReplaceChunks) bool {
	for j := 1; j < len(c.Old); j++ {
		if c.Old[j].BaseOffset != c.Old[j-1].NextOffset {
			return false
		}
	}
	next := c.Old[0].BaseOffset
	for _, n := range c.New {
		if n.Marker != nil {
			// A transaction marker kept as it is (a cleaner's group of
			// one marker replaces itself): no object, one offset.
			if n.Object != "" || n.BaseOffset != next || n.NextOffset != n.BaseOffset+1 || n.RawLen != MarkerBatchSize {
				return false
			}
			next = n.NextOffset
			continue
		}
		if n.Object == "" || n.BaseOffset != next || n.NextOffset <= n.BaseOffset || n.Len < 1 || n.RawLen < 1 || n.Pos < 0 {
			return false
		}
		for k, sk := range n.Skip {
			if sk < 0 || (k > 0 && sk <= n.Skip[k-1]) {
				return false
			}
		}
		next = n.NextOffset
	}
	return next == c.Old[len(c.Old)-1].NextOffset
}

func (s *State) markGarbage(c *MarkGarbage) Result {
	candidates := make(map[string]bool, len(c.Objects))
	for _, o := range c.Objects {
		if _, marked := s.Garbage[o]; !marked && o != "" {
			candidates[o] = true
		}
	}
	if len(candidates) == 0 {
		return Result{}
	}
	for _, t := range s.Topics {
		for _, p := range t.Partitions {
			for i := range p.Chunks {
				delete(candidates, p.Chunks[i].Object)
			}
		}
	}
	for o := range candidates {
		s.Garbage[o] = s.Time
	}
	return Result{}
}

func (s *State) forgetGarbage(c *ForgetGarbage) Result {
	for _, o := range c.Objects {
		delete(s.Garbage, o)
	}
	return Result{}
}

func (s *State) beginExport(c *BeginExport) Result {
	p := s.partitionByID(c.Topic, c.TopicID, c.Partition)
	if p == nil {
		return Result{Code: kerr.UnknownTopicOrPartition.Code}
	}
	pr := s.progress(c.TopicID, c.Partition)
	if pr.Exported != c.Prev || pr.ExportTo != 0 {
		return Result{Code: CodeStale}
	}
	if c.From < c.Prev || c.To <= c.From || c.To > p.NextOffset || c.From > max(c.Prev, p.StartOffset) {
		return Result{Code: kerr.InvalidRequest.Code}
	}
	pr.ExportFrom, pr.ExportTo = c.From, c.To
	return Result{}
}

func (s *State) commitExport(c *CommitExport) Result {
	if s.partitionByID(c.Topic, c.TopicID, c.Partition) == nil {
		return Result{Code: kerr.UnknownTopicOrPartition.Code}
	}
	pr := s.progress(c.TopicID, c.Partition)
	if pr.ExportTo == 0 || pr.ExportFrom != c.From || pr.ExportTo != c.To {
		return Result{Code: CodeStale}
	}
	pr.Exported, pr.ExportFrom, pr.ExportTo, pr.ExportTime = c.To, 0, 0, s.Time
	return Result{}
}

// Referenced returns the set of objects the chunks of every partition
// reference.
func (s *State) Referenced() map[string]bool {
	refs := map[string]bool{}
	for _, t := range s.Topics {
		for _, p := range t.Partitions {
			for i := range p.Chunks {
				refs[p.Chunks[i].Object] = true
			}
		}
	}
	return refs
}
