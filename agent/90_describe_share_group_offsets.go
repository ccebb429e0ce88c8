package agent

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
)

// DescribeShareGroupOffsets (key 90), versions 0-1.
//
// Behavior: at the group's coordinator, each share-partition's start
// offset as last written to the journal (-1 for a partition the group has
// not consumed) and, v1+, its lag: records from the start offset to the
// log end neither acknowledged nor archived. Without topics, every
// partition the group has state for.
//
// With the authorizer on, as Kafka: each group needs DESCRIBE
// (GROUP_AUTHORIZATION_FAILED), each topic asked for DESCRIBE (its
// partitions TOPIC_AUTHORIZATION_FAILED), and a listing of every topic
// leaves out those the client may not DESCRIBE.
func handleDescribeShareGroupOffsets(c *conn, req *request) reply {
	r := req.body.(*kmsg.DescribeShareGroupOffsetsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeShareGroupOffsetsResponse)
	for _, g := range r.Groups {
		if !c.authorizedGroup(acl.OpDescribe, g.GroupID) {
			rg := kmsg.NewDescribeShareGroupOffsetsResponseGroup()
			rg.GroupID, rg.ErrorCode = g.GroupID, kerr.GroupAuthorizationFailed.Code
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		var denied []kmsg.DescribeShareGroupOffsetsRequestGroupTopic
		if c.a.authz.on && g.Topics != nil {
			g.Topics, denied = splitAuthorized(g.Topics, func(t kmsg.DescribeShareGroupOffsetsRequestGroupTopic) bool {
				return c.authorizedTopic(acl.OpDescribe, t.Topic)
			})
			if g.Topics == nil {
				g.Topics = []kmsg.DescribeShareGroupOffsetsRequestGroupTopic{} // not null: null asks for every topic
			}
		}
		rg := c.a.shares.DescribeOffsets(g)
		if c.a.authz.on && g.Topics == nil {
			rg.Topics = slices.DeleteFunc(rg.Topics, func(t kmsg.DescribeShareGroupOffsetsResponseGroupTopic) bool {
				return !c.permitted(acl.OpDescribe, acl.ResourceTopic, t.Topic)
			})
		}
		for _, t := range denied {
			st := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopic()
			st.Topic = t.Topic
			for _, p := range t.Partitions {
				sp := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopicPartition()
				sp.Partition, sp.StartOffset, sp.ErrorCode = p, -1, kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			rg.Topics = append(rg.Topics, st)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return reply{resp: resp}
}
