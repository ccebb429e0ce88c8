package compaction

import (
	"context"
	"fmt"

	"github.com/silt-io/silt/journal"
)

// retentionStart returns the log start offset retention asks for: past
// every leading chunk whose newest record is older than retention.ms, and
// past the oldest chunks as long as what remains is at least
// retention.bytes, as Kafka deletes whole segments by the same two rules.
// On an exported topic it never passes the exported offset, so nothing is
// deleted before it is archived. It returns start when nothing is due.
func retentionStart(pr *partitionRef, nowMs int64) int64 {
	pol := pr.policy
	start := pr.start
	if !pol.delete {
		return start
	}
	if pol.retentionMs >= 0 {
		for _, ch := range pr.chunks {
			if ch.MaxTimestamp >= nowMs-pol.retentionMs {
				break
			}
			start = max(start, ch.NextOffset)
		}
	}
	if pol.retentionBytes >= 0 {
		var size int64
		for _, ch := range pr.chunks {
			size += ch.RawLen
		}
		for _, ch := range pr.chunks {
			if size-ch.RawLen < pol.retentionBytes {
				break
			}
			size -= ch.RawLen
			start = max(start, ch.NextOffset)
		}
	}
	if pol.export {
		start = min(start, max(pr.progress.Exported, pr.start))
	}
	return start
}

// Retention advances the log start offset of partitions whose oldest
// chunks are past retention.ms or retention.bytes, with DeleteRecords,
// all in one journal entry. Fetches and ListOffsets below the new start
// answer as Kafka does (OFFSET_OUT_OF_RANGE, the new earliest offset); the
// chunks dropped become garbage.
func (c *Compactor) Retention(ctx context.Context) (Stats, error) {
	var st Stats
	nowMs := c.opts.Now().UnixMilli()
	var cmds []journal.Command
	for _, pr := range c.partitions(func(p policy) bool { return p.delete }) {
		if start := retentionStart(&pr, nowMs); start > pr.start {
			for _, ch := range pr.chunks {
				if ch.NextOffset <= start && ch.Marker == nil {
					c.dropped = append(c.dropped, ch.Object)
				}
			}
			cmds = append(cmds, journal.Command{ID: "compactor-" + randomID(), DeleteRecords: &journal.DeleteRecords{
				Topic: pr.topic, Partition: pr.partition, Offset: start,
			}})
		}
	}
	if len(cmds) == 0 {
		return st, nil
	}
	res, err := c.propose(ctx, cmds)
	if err != nil {
		return st, fmt.Errorf("propose retention: %w", err)
	}
	for i, r := range res {
		if r.Code == 0 {
			st.Truncated++
		} else {
			d := cmds[i].DeleteRecords
			c.opts.Logger.Info("retention refused", "topic", d.Topic, "partition", d.Partition, "code", r.Code)
		}
	}
	return st, nil
}
