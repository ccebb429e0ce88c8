package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/recordbatch"
)

// ListOffsets (key 2), versions 1-8.
//
// Behavior: timestamp -2 (earliest) answers the log start offset, -1
// (latest) the high watermark, -3 (max timestamp, v7+) the first record
// with the largest timestamp; any other timestamp answers the first record
// whose timestamp is at or after it, read from the chunks (offset -1 when
// there is none). Isolation levels read the same (no transactions).
func handleListOffsets(c *conn, req *request) reply {
	r := req.body.(*kmsg.ListOffsetsRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.Offset, sp.Timestamp, sp.LeaderEpoch = -1, -1, leaderEpoch
				sp.ErrorCode = c.a.listOffset(ctx, rt.Topic, rp.Partition, rp.Timestamp, &sp)
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}}
}

func (a *Agent) listOffset(ctx context.Context, topic string, partition int32, ts int64, sp *kmsg.ListOffsetsResponseTopicPartition) int16 {
	var (
		found  bool
		start  int64
		next   int64
		chunks []journal.Chunk
	)
	a.journal.View(func(s *journal.State) {
		p := s.Partition(topic, partition)
		if p == nil {
			return
		}
		found, start, next = true, p.StartOffset, p.NextOffset
		switch ts {
		case -1, -2:
		case -3:
			var best int64 = -1
			for i := range p.Chunks {
				if best < 0 || p.Chunks[i].MaxTimestamp > chunks[0].MaxTimestamp {
					chunks = []journal.Chunk{p.Chunks[i]}
					best = p.Chunks[i].MaxTimestamp
				}
			}
		default:
			if i, ok := p.OffsetForTimestamp(ts); ok {
				// The answer is in the first chunk reaching ts, unless its
				// records there are below the log start; look on a little.
				end := min(i+4, len(p.Chunks))
				chunks = append(chunks, p.Chunks[i:end]...)
			}
		}
	})
	if !found {
		return kerr.UnknownTopicOrPartition.Code
	}
	switch ts {
	case -2:
		sp.Offset = start
		return 0
	case -1:
		sp.Offset = next
		return 0
	}
	target := ts
	if ts == -3 {
		if len(chunks) == 0 {
			return 0
		}
		target = chunks[0].MaxTimestamp
	}
	for _, ch := range chunks {
		data, err := a.readChunk(ctx, ch)
		if err != nil {
			a.log.Error("list offsets: read chunk", "err", err)
			return kerr.KafkaStorageError.Code
		}
		for b, err := range recordbatch.IterateFetch(data) {
			if err != nil {
				return kerr.KafkaStorageError.Code
			}
			if b.MaxTimestamp < target || b.LastOffset() < start {
				continue
			}
			records, err := recordbatch.Records(b.Bytes, 64<<20)
			if err != nil {
				return kerr.KafkaStorageError.Code
			}
			for _, rec := range records {
				if rec.Offset >= start && rec.Timestamp >= target {
					sp.Offset, sp.Timestamp = rec.Offset, rec.Timestamp
					return 0
				}
			}
		}
	}
	return 0
}
