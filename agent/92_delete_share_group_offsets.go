package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteShareGroupOffsets (key 92), version 0.
//
// Behavior: removes a group's share state for whole topics, for a group
// without members (NON_EMPTY_GROUP otherwise; GROUP_ID_NOT_FOUND for no
// share group); the next fetch starts afresh at share.auto.offset.reset.
func handleDeleteShareGroupOffsets(c *conn, req *request) reply {
	r := req.body.(*kmsg.DeleteShareGroupOffsetsRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response { return c.a.shares.DeleteOffsets(ctx, r) }}
}
