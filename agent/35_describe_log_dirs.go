package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// DescribeLogDirs (key 35), versions 1-5.
//
// Behavior: each agent has one "log dir", named by the bucket it stores
// into, and reports in it the partitions it owns (those Metadata names it
// leader of) with their stored size: the bytes of the record batches in
// the bucket, below the log start offset included until the compactor
// drops them. Summing over the agents, as tools that size topics do, so
// counts every partition once. Topics null asks for every topic; unknown
// topics and partitions are left out, as Kafka leaves out what a broker
// does not host. The volume's total and usable bytes (v4+) are unknown
// (-1): a bucket has no capacity. Nothing is ever a future replica or
// cordoned (v5).
//
// With the authorizer on, it needs DESCRIBE on the cluster (no directories
// and, v3+, CLUSTER_AUTHORIZATION_FAILED).
func handleDescribeLogDirs(c *conn, req *request) reply {
	r := req.body.(*kmsg.DescribeLogDirsRequest)
	a := c.a
	resp := r.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	if !c.authorizedCluster(acl.OpDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return reply{resp: resp}
	}
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = a.bucket.Name()
	dir.TotalBytes, dir.UsableBytes = -1, -1
	members := a.cluster.members()
	self := a.nodeID
	a.journal.View(func(s *journal.State) {
		addTopic := func(t *journal.Topic, partitions []int32) {
			dt := kmsg.NewDescribeLogDirsResponseDirTopic()
			dt.Topic = t.Name
			for _, p := range partitions {
				if p < 0 || int(p) >= len(t.Partitions) || a.partitionOwner(members, t.Name, p) != self {
					continue
				}
				dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
				dp.Partition, dp.Size = p, t.Partitions[p].Bytes()
				dt.Partitions = append(dt.Partitions, dp)
			}
			if len(dt.Partitions) > 0 {
				dir.Topics = append(dir.Topics, dt)
			}
		}
		if r.Topics == nil {
			for _, name := range s.TopicNames() {
				t := s.Topic(name)
				all := make([]int32, len(t.Partitions))
				for i := range all {
					all[i] = int32(i)
				}
				addTopic(t, all)
			}
			return
		}
		for _, rt := range r.Topics {
			if t := s.Topic(rt.Topic); t != nil {
				addTopic(t, rt.Partitions)
			}
		}
	})
	resp.Dirs = append(resp.Dirs, dir)
	return reply{resp: resp}
}
