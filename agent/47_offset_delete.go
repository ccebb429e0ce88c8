package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetDelete (key 47), version 0.
//
// Behavior: deletes a group's committed offsets for some partitions, in
// one journal entry. Partitions of a topic the group's members are
// subscribed to are refused with GROUP_SUBSCRIBED_TO_TOPIC; an unknown
// group is GROUP_ID_NOT_FOUND.
func handleOffsetDelete(c *conn, req *request) reply {
	r := req.body.(*kmsg.OffsetDeleteRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response { return c.a.groups.DeleteOffsets(ctx, r) }}
}
