package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// DeleteGroups (key 42), versions 0-2.
//
// Behavior: deletes an empty group, its committed offsets and its stored
// membership (through the journal). A group with members is
// NON_EMPTY_GROUP; a group with neither members nor offsets
// GROUP_ID_NOT_FOUND. As in Kafka, the deleted group is Dead and gone at
// once: it leaves the coordinator's memory before the journal write, so
// ListGroups and DescribeGroups no longer show it. A share group is
// deleted with its share-partitions' state and its configs; a streams
// group with its offsets.
//
// With the authorizer on, each group needs DELETE (GROUP_AUTHORIZATION_FAILED).
func handleDeleteGroups(c *conn, req *request) reply {
	r := req.body.(*kmsg.DeleteGroupsRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.DeleteGroupsResponse)
		for _, name := range r.Groups {
			rg := kmsg.NewDeleteGroupsResponseGroup()
			rg.Group = name
			if !c.authorizedGroup(acl.OpDelete, name) {
				rg.ErrorCode = kerr.GroupAuthorizationFailed.Code
			} else if c.a.shares.IsShareGroup(name) {
				rg.ErrorCode = c.a.shares.DeleteGroup(ctx, name)
			} else if known, code := c.a.streams.DeleteGroup(ctx, name); known {
				rg.ErrorCode = code
				if code == 0 {
					// Its committed offsets, if any.
					if code := c.a.groups.DeleteGroup(ctx, name); code != kerr.GroupIDNotFound.Code {
						rg.ErrorCode = code
					}
				}
			} else {
				rg.ErrorCode = c.a.groups.DeleteGroup(ctx, name)
			}
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	}}
}
