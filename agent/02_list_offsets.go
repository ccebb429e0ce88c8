package agent

import (
	"context"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent/offsetstopic"
	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/recordbatch"
)

// ListOffsets (key 2), versions 1-8.
//
// Behavior: timestamp -2 (earliest) answers the log start offset, -1
// (latest) the high watermark, -3 (max timestamp, v7+) the first record
// with the largest timestamp; any other timestamp answers the first record
// whose timestamp is at or after it, read from the chunks (offset -1 when
// there is none). Only records at or after the log start count. Latest at
// READ_COMMITTED (isolation level 1) is the last stable offset, below any
// open transaction. With the authorizer on, each topic needs DESCRIBE
// (TOPIC_AUTHORIZATION_FAILED for its partitions).
func handleListOffsets(c *conn, req *request) reply {
	r := req.body.(*kmsg.ListOffsetsRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = rt.Topic
			describable := c.authorizedTopic(acl.OpDescribe, rt.Topic)
			for _, rp := range rt.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.Offset, sp.Timestamp, sp.LeaderEpoch = -1, -1, leaderEpoch
				if !describable {
					sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				} else {
					sp.ErrorCode = c.a.listOffset(ctx, rt.Topic, rp.Partition, rp.Timestamp, r.IsolationLevel == 1, &sp)
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}}
}

func (a *Agent) listOffset(ctx context.Context, topic string, partition int32, ts int64, committed bool, sp *kmsg.ListOffsetsResponseTopicPartition) int16 {
	var (
		found  bool
		start  int64
		next   int64
		chunks []journal.Chunk
	)
	if topic == offsetstopic.Topic {
		var code int16
		a.journal.View(func(s *journal.State) { code = listOffsetsTopic(s, partition, ts, sp) })
		return code
	}
	a.journal.View(func(s *journal.State) {
		p := s.Partition(topic, partition)
		if p == nil {
			return
		}
		found, start, next = true, p.StartOffset, p.NextOffset
		if committed {
			next = p.LastStable()
		}
		switch ts {
		case -1, -2:
		case -3:
			// The first chunk with the largest MaxTimestamp holds the
			// answer, except that MaxTimestamp covers a whole chunk, and
			// the first chunk may hold records below the log start: that
			// one is read as well, ahead of the best of the others.
			var best *journal.Chunk
			for i := range p.Chunks {
				switch {
				case i == 0 && p.Chunks[0].BaseOffset < p.StartOffset:
					chunks = append(chunks, p.Chunks[0])
				case best == nil || p.Chunks[i].MaxTimestamp > best.MaxTimestamp:
					best = &p.Chunks[i]
				}
			}
			if best != nil {
				chunks = append(chunks, *best)
			}
		default:
			// The first chunk whose MaxTimestamp reaches ts holds the
			// answer, unless it is a first chunk that reaches ts only with
			// records below the log start: then the next one that reaches
			// ts holds it.
			for _, ch := range p.Chunks {
				if ch.MaxTimestamp < ts || ch.NextOffset <= p.StartOffset {
					continue
				}
				chunks = append(chunks, ch)
				if ch.BaseOffset >= p.StartOffset {
					break
				}
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
		target = math.MinInt64
		for _, ch := range chunks {
			m, err := a.maxTimestampFrom(ctx, ch, start)
			if err != nil {
				a.log.Error("list offsets: read chunk", "err", err)
				return kerr.KafkaStorageError.Code
			}
			target = max(target, m)
		}
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

// maxTimestampFrom returns the largest timestamp of the chunk's records at
// or after start: the chunk's MaxTimestamp, unless the chunk begins below
// start, when its records are read.
func (a *Agent) maxTimestampFrom(ctx context.Context, ch journal.Chunk, start int64) (int64, error) {
	if ch.BaseOffset >= start {
		return ch.MaxTimestamp, nil
	}
	data, err := a.readChunk(ctx, ch)
	if err != nil {
		return 0, err
	}
	maxTS := int64(math.MinInt64)
	for b, err := range recordbatch.IterateFetch(data) {
		if err != nil {
			return 0, err
		}
		switch {
		case b.LastOffset() < start:
		case b.BaseOffset >= start:
			maxTS = max(maxTS, b.MaxTimestamp)
		default:
			records, err := recordbatch.Records(b.Bytes, 64<<20)
			if err != nil {
				return 0, err
			}
			for _, rec := range records {
				if rec.Offset >= start {
					maxTS = max(maxTS, rec.Timestamp)
				}
			}
		}
	}
	return maxTS, nil
}
