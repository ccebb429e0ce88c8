package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// AlterShareGroupOffsets (key 91), version 0.
//
// Behavior: sets the start offset of share-partitions of a group without
// members (NON_EMPTY_GROUP otherwise), through the journal: nothing is in
// flight after it and delivery counts start again, and the owner reloads
// (kafka-share-groups.sh --reset-offsets).
func handleAlterShareGroupOffsets(c *conn, req *request) reply {
	r := req.body.(*kmsg.AlterShareGroupOffsetsRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response { return c.a.shares.AlterOffsets(ctx, r) }}
}
