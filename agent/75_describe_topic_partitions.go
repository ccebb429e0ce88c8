package agent

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent/offsetstopic"
	"github.com/silt-io/silt/gossip"
	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// DescribeTopicPartitions (key 75), version 0.
//
// Behavior: what Metadata says of topics, paged as Kafka pages it (the
// Java AdminClient's describeTopics uses it from Kafka 3.8 on). The topics
// asked for (every topic when the list is empty) are answered in name
// order from the cursor on, at most ResponsePartitionLimit partitions
// (2000 when the limit is 0 or above it, as Kafka caps it); when the limit
// cuts the answer, NextCursor names the first partition left out. An
// unknown topic is UNKNOWN_TOPIC_OR_PARTITION. __consumer_offsets is
// described as Metadata describes it (internal, 50 partitions), so a
// tool that lists internal topics and describes them all
// (kafka-transactions.sh find-hanging) gets an answer for each. Leader, replicas and
// in-sync replicas are the owning agent, as in Metadata; there are no
// eligible-leader or offline replicas. Authorized operations are every
// topic operation (no authorizer).
//
// With the authorizer on, as Kafka: a listing of all topics leaves out
// those the client may not DESCRIBE, a topic asked for by name is
// TOPIC_AUTHORIZATION_FAILED, and authorized operations come from the
// ACLs.
func handleDescribeTopicPartitions(c *conn, req *request) reply {
	r := req.body.(*kmsg.DescribeTopicPartitionsRequest)
	a := c.a
	resp := r.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)
	members := gossip.InZone(a.cluster.members(), clientZone(req.clientID))
	limit := r.ResponsePartitionLimit
	if limit <= 0 || limit > maxDescribePartitions {
		limit = maxDescribePartitions
	}
	var named []string
	for _, rt := range r.Topics {
		named = append(named, rt.Topic)
	}
	var listed []string
	if len(named) == 0 {
		a.journal.View(func(s *journal.State) { listed = withOffsetsTopic(s.TopicNames()) })
	}
	describable := c.describableTopicNames(named, listed)
	ops := map[string]int32{} // authorized operations, decided outside the state lock too
	for _, name := range append(listed, named...) {
		if describable(name) {
			ops[name] = c.authorizedOps(acl.ResourceTopic, name, topicOps)
		}
	}
	a.journal.View(func(s *journal.State) {
		var names []string
		if len(r.Topics) == 0 {
			names = withOffsetsTopic(s.TopicNames())
		} else {
			for _, rt := range r.Topics {
				names = append(names, rt.Topic)
			}
			slices.Sort(names)
			names = slices.Compact(names)
		}
		left := limit
		for _, name := range names {
			first := int32(0)
			if r.Cursor != nil {
				if name < r.Cursor.Topic {
					continue
				}
				if name == r.Cursor.Topic {
					first = max(r.Cursor.Partition, 0)
				}
			}
			st := kmsg.NewDescribeTopicPartitionsResponseTopic()
			n := name
			st.Topic = &n
			t := s.Topic(name)
			if !describable(name) {
				if len(r.Topics) > 0 {
					st.ErrorCode = kerr.TopicAuthorizationFailed.Code
					resp.Topics = append(resp.Topics, st)
				}
				continue
			}
			partitions := int32(0)
			switch {
			case name == offsetstopic.Topic:
				st.TopicID, st.IsInternal, partitions = offsetsTopicID(s), true, offsetstopic.Partitions
			case t == nil:
				st.ErrorCode = kerr.UnknownTopicOrPartition.Code
				resp.Topics = append(resp.Topics, st)
				continue
			default:
				st.TopicID, partitions = t.ID, int32(len(t.Partitions))
			}
			if left == 0 {
				resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: first}
				return
			}
			st.AuthorizedOperations = ops[name]
			for p := first; p < partitions; p++ {
				if left == 0 {
					resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: p}
					break
				}
				sp := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
				owner := a.partitionOwner(members, name, p)
				sp.Partition, sp.LeaderID, sp.LeaderEpoch = p, owner, leaderEpoch
				sp.Replicas, sp.ISR = []int32{owner}, []int32{owner}
				sp.EligibleLeaderReplicas, sp.LastKnownELR, sp.OfflineReplicas = []int32{}, []int32{}, []int32{}
				st.Partitions = append(st.Partitions, sp)
				left--
			}
			resp.Topics = append(resp.Topics, st)
			if resp.NextCursor != nil {
				return
			}
		}
	})
	return reply{resp: resp}
}

// withOffsetsTopic adds __consumer_offsets to a sorted list of topic
// names, in its place.
func withOffsetsTopic(names []string) []string {
	i, _ := slices.BinarySearch(names, offsetstopic.Topic)
	return slices.Insert(names, i, offsetstopic.Topic)
}

// maxDescribePartitions is the most partitions one DescribeTopicPartitions
// answer holds: Kafka's max.request.partition.size.limit default.
const maxDescribePartitions = 2000
