package agent

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent/offsetstopic"
	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/recordbatch"
)

// Fetch (key 1), versions 4-16.
//
// Behavior: returns whole record batches from the batch holding each
// partition's fetch offset, read from the cache or the bucket, with the
// committed offsets patched in. Limits are Kafka's: MaxBytes for the
// response and PartitionMaxBytes per partition, except that the first batch
// of the first partition with data is returned even if larger, so a
// consumer always progresses. If fewer than MinBytes are ready, the fetch
// waits up to MaxWaitMillis and is woken by every journal entry applied.
// An offset outside [log start, high watermark] is OFFSET_OUT_OF_RANGE.
// READ_UNCOMMITTED reads up to the high watermark; READ_COMMITTED up to
// the last stable offset (the first offset of the partition's earliest
// open transaction), with the aborted transactions the data overlaps
// (journal/apply_txn.go), from which the client drops aborted batches as
// it does on Kafka. Both carry the commit and abort markers, control
// batches that clients skip. A fetch waiting at the last stable offset is
// woken when a transaction ends, as by any journal entry. Fetch
// sessions (KIP-227) are declined: session id 0 is always answered, and a
// request naming a session gets FETCH_SESSION_ID_NOT_FOUND, after which
// clients send full fetches. v13+ names topics by id (UNKNOWN_TOPIC_ID
// when unknown). With the authorizer on, each topic needs READ
// (TOPIC_AUTHORIZATION_FAILED for its partitions, after an unknown topic
// id's UNKNOWN_TOPIC_ID).
func handleFetch(c *conn, req *request) reply {
	r := req.body.(*kmsg.FetchRequest)
	readable := c.topicCheck(acl.OpRead)
	return reply{wait: func(ctx context.Context) kmsg.Response { return c.a.fetch(ctx, r, readable) }}
}

// defaultFetchMaxBytes is Kafka's fetch.max.bytes default, used when a
// request does not set MaxBytes.
const defaultFetchMaxBytes = 52428800

// fetch answers r; allowed, if set, says which topics the client may read.
func (a *Agent) fetch(ctx context.Context, r *kmsg.FetchRequest, allowed func(topic string) bool) *fetchResponse {
	if r.SessionID != 0 && r.SessionEpoch != -1 {
		resp := r.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return &fetchResponse{FetchResponse: resp}
	}
	wait := time.Duration(r.MaxWaitMillis) * time.Millisecond
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		// Take the wake-up channel before reading, so an entry applied
		// while this fetch reads is not missed.
		changed := a.journal.Changed()
		resp, bytes, failed := a.fetchOnce(ctx, r, allowed)
		if bytes >= int(r.MinBytes) || failed || wait <= 0 {
			return resp
		}
		select {
		case <-changed:
		case <-timer.C:
			wait = 0 // answer with whatever the next read finds
		case <-ctx.Done():
			return resp
		}
	}
}

// fetchPlan is what one partition's fetch reads, decided under the state
// lock and carried out without it.
type fetchPlan struct {
	code      int16
	hw, start int64
	lso       int64 // last stable offset
	// upper is the offset the fetch reads below: the high watermark, or
	// for read_committed the last stable offset.
	upper   int64
	aborted []journal.AbortedTxn // read_committed: those in [offset, upper)
	chunks  []journal.Chunk
	next    *journal.Chunk // the chunk after the last planned, to prefetch
}

// planFetch plans a read_uncommitted fetch.
func (a *Agent) planFetch(s *journal.State, topic string, partition int32, offset int64, limit int) fetchPlan {
	return a.planFetchAt(s, topic, partition, offset, limit, false)
}

// planFetchAt plans a fetch; committed reads only below the last stable
// offset.
func (a *Agent) planFetchAt(s *journal.State, topic string, partition int32, offset int64, limit int, committed bool) fetchPlan {
	p := s.Partition(topic, partition)
	if p == nil {
		return fetchPlan{code: kerr.UnknownTopicOrPartition.Code, hw: -1, start: -1, lso: -1}
	}
	plan := fetchPlan{hw: p.NextOffset, start: p.StartOffset, lso: p.LastStable(), upper: p.NextOffset}
	if committed {
		plan.upper = plan.lso
	}
	if offset >= plan.upper && offset <= p.NextOffset {
		return plan // nothing readable yet
	}
	i := p.FindChunk(offset)
	if i < 0 {
		plan.code = kerr.OffsetOutOfRange.Code
		return plan
	}
	if committed {
		plan.aborted = p.AbortedIn(offset, plan.upper)
	}
	planned := int64(0)
	for ; i < len(p.Chunks) && p.Chunks[i].BaseOffset < plan.upper && (planned < int64(limit) || len(plan.chunks) == 0); i++ {
		plan.chunks = append(plan.chunks, p.Chunks[i])
		planned += p.Chunks[i].RawLen
	}
	if i < len(p.Chunks) && p.Chunks[i].BaseOffset < plan.upper {
		next := p.Chunks[i]
		plan.next = &next
	}
	return plan
}

// fetchOnce reads what is available now. It returns the response, the
// bytes of record batches in it, and whether any partition failed (which
// answers the fetch at once, as Kafka does).
func (a *Agent) fetchOnce(ctx context.Context, r *kmsg.FetchRequest, allowed func(topic string) bool) (*fetchResponse, int, bool) {
	resp := &fetchResponse{FetchResponse: r.ResponseKind().(*kmsg.FetchResponse)}
	budget := int(r.MaxBytes)
	if budget <= 0 {
		budget = defaultFetchMaxBytes
	}
	total, failed := 0, false
	for ti, rt := range r.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		name, known := rt.Topic, true
		if r.Version >= 13 {
			a.journal.View(func(s *journal.State) {
				switch t := s.TopicByID(journal.TopicID(rt.TopicID)); {
				case t != nil:
					name = t.Name
				case rt.TopicID == offsetsTopicID(s):
					name = offsetstopic.Topic
				default:
					known = false
				}
			})
		}
		denied := known && allowed != nil && !allowed(name)
		for pi, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			sp.PreferredReadReplica = -1
			sp.RecordBatches = []byte{} // never null: librdkafka refuses a null record set
			if !known || denied {
				sp.ErrorCode = kerr.UnknownTopicID.Code
				if denied {
					sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				}
				failed = true
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			limit := min(int(rp.PartitionMaxBytes), budget-total)
			if name == offsetstopic.Topic {
				a.journal.View(func(s *journal.State) {
					fetchOffsetsTopic(s, rp.Partition, rp.FetchOffset, limit, total == 0, &sp)
				})
				failed = failed || sp.ErrorCode != 0
				total += len(sp.RecordBatches)
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			var plan fetchPlan
			committed := r.IsolationLevel == 1
			a.journal.View(func(s *journal.State) {
				plan = a.planFetchAt(s, name, rp.Partition, rp.FetchOffset, limit, committed)
			})
			sp.ErrorCode = plan.code
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = plan.hw, plan.lso, plan.start
			if committed {
				sp.AbortedTransactions = abortedTransactions(plan.aborted)
			}
			if plan.code != 0 {
				failed = true
			} else if limit > 0 || total == 0 {
				parts, size, code := a.readPlan(ctx, plan, rp.FetchOffset, limit, total == 0)
				if code != 0 {
					sp.ErrorCode, failed = code, true
				}
				// The batches stay in the cache's buffers until the
				// connection writes them (fetch_frame.go).
				resp.setBatches(ti, pi, parts)
				total += size
				a.metrics.fetchBytes.Add(float64(size))
				for _, part := range parts {
					a.metrics.fetchRecords.Add(float64(countRecords(part)))
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, total, failed
}

// readPlan reads a plan's chunks and returns whole batches from offset,
// at most limit bytes of them unless atLeastOne lets the first exceed it:
// the pieces of the chunks that hold them, shared with the cache (never
// copied or modified), and their size.
func (a *Agent) readPlan(ctx context.Context, plan fetchPlan, offset int64, limit int, atLeastOne bool) ([][]byte, int, int16) {
	var parts [][]byte
	size := 0
	for i, ch := range plan.chunks {
		data, err := a.readChunk(ctx, ch)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Error("fetch: read chunk", "err", err)
			}
			if size > 0 {
				break // serve what was read
			}
			return nil, 0, kerr.KafkaStorageError.Code
		}
		if i == 0 {
			data = batchesFrom(data, offset)
		}
		data = batchesBelow(data, plan.upper)
		data = takeBatches(data, limit-size, atLeastOne && size == 0)
		if len(data) == 0 {
			break
		}
		parts = append(parts, data)
		size += len(data)
		if size >= limit {
			break
		}
	}
	if plan.next != nil {
		a.prefetchChunk(*plan.next)
	}
	return parts, size, 0
}

// abortedTransactions renders the aborted-transaction index entries of a
// read_committed fetch; never null, so every client sees the list.
func abortedTransactions(aborted []journal.AbortedTxn) []kmsg.FetchResponseTopicPartitionAbortedTransaction {
	out := make([]kmsg.FetchResponseTopicPartitionAbortedTransaction, 0, len(aborted))
	for _, at := range aborted {
		t := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		t.ProducerID, t.FirstOffset = at.ProducerID, at.FirstOffset
		out = append(out, t)
	}
	return out
}

// batchesBelow returns the prefix of whole patched batches that start
// below upper (a read_committed fetch stops at the last stable offset,
// which is always a batch's first offset or the high watermark).
func batchesBelow(b []byte, upper int64) []byte {
	n := 0
	for n < len(b) {
		h, err := recordbatch.ParseHeader(b[n:])
		if err != nil || h.Size() > len(b)-n || h.BaseOffset >= upper {
			break
		}
		n += h.Size()
	}
	return b[:n]
}

// takeBatches returns the longest prefix of whole batches of b that fits in
// limit bytes; with atLeastOne, at least the first batch.
func takeBatches(b []byte, limit int, atLeastOne bool) []byte {
	n := 0
	for n < len(b) {
		h, err := recordbatch.ParseHeader(b[n:])
		if err != nil || h.Size() > len(b)-n {
			break
		}
		if n+h.Size() > limit && !(atLeastOne && n == 0) {
			break
		}
		n += h.Size()
	}
	return b[:n]
}
