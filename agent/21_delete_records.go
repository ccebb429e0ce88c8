package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// DeleteRecords (key 21), versions 0-2.
//
// Behavior: advances each partition's log start offset to the offset given
// (-1: the high watermark) in one journal entry and answers the new low
// watermark. An offset past the high watermark is OFFSET_OUT_OF_RANGE. The
// bytes are reclaimed by the compactor; fetches below the new start get
// OFFSET_OUT_OF_RANGE at once.
//
// With the authorizer on, each topic needs DELETE (its partitions
// TOPIC_AUTHORIZATION_FAILED).
func handleDeleteRecords(c *conn, req *request) reply {
	r := req.body.(*kmsg.DeleteRecordsRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.DeleteRecordsResponse)
		var cmds []journal.Command
		for _, rt := range r.Topics {
			st := kmsg.NewDeleteRecordsResponseTopic()
			st.Topic = rt.Topic
			deletable := c.authorizedTopic(acl.OpDelete, rt.Topic)
			for _, rp := range rt.Partitions {
				sp := kmsg.NewDeleteRecordsResponseTopicPartition()
				sp.Partition, sp.LowWatermark = rp.Partition, -1
				if !deletable {
					sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				}
				st.Partitions = append(st.Partitions, sp)
				if !deletable {
					continue
				}
				cmds = append(cmds, journal.Command{DeleteRecords: &journal.DeleteRecords{
					Topic: rt.Topic, Partition: rp.Partition, Offset: rp.Offset,
				}})
			}
			resp.Topics = append(resp.Topics, st)
		}
		if len(cmds) == 0 {
			return resp
		}
		res, code := c.a.submit(ctx, cmds...)
		i := 0
		for ti := range resp.Topics {
			for pi := range resp.Topics[ti].Partitions {
				sp := &resp.Topics[ti].Partitions[pi]
				if sp.ErrorCode == kerr.TopicAuthorizationFailed.Code {
					continue // no command was proposed for it
				}
				if code != 0 {
					sp.ErrorCode = code
				} else {
					sp.ErrorCode = res[i].Code
					if sp.ErrorCode == 0 {
						sp.LowWatermark = res[i].Offset
					}
				}
				i++
			}
		}
		return resp
	}}
}
