package agent

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeShareGroupOffsets (key 90), versions 0-1.
//
// Behavior: at the group's coordinator, each share-partition's start
// offset as last written to the journal (-1 for a partition the group has
// not consumed) and, v1+, its lag: records from the start offset to the
// log end neither acknowledged nor archived. Without topics, every
// partition the group has state for.
func handleDescribeShareGroupOffsets(c *conn, req *request) reply {
	r := req.body.(*kmsg.DescribeShareGroupOffsetsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeShareGroupOffsetsResponse)
	for _, g := range r.Groups {
		resp.Groups = append(resp.Groups, c.a.shares.DescribeOffsets(g))
	}
	return reply{resp: resp}
}
