package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// Metadata (key 3), versions 1-12.
//
// Behavior: lists the agents and, for every topic asked for (all topics
// when the list is null), its id and partitions. Each partition's leader,
// replicas and in-sync replicas are the agent that owns it; the leader
// epoch is constant (see leaderEpoch). Unknown topics are created when
// auto-creation is on and the request allows it (v4+); otherwise they are
// UNKNOWN_TOPIC_OR_PARTITION, and invalid names INVALID_TOPIC_EXCEPTION.
// v10+ may name topics by id. Authorized operations are not computed.
func handleMetadata(c *conn, req *request) reply {
	r := req.body.(*kmsg.MetadataRequest)
	a := c.a
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	resp.Brokers = a.brokers()
	resp.ControllerID = a.nodeID

	allowCreate := a.cfg.AutoCreateTopics && (r.Version < 4 || r.AllowAutoTopicCreation)
	if r.Topics != nil {
		for _, rt := range r.Topics {
			if rt.Topic != nil {
				if _, code := a.lookupTopic(c.ctx, *rt.Topic, allowCreate); code != 0 {
					st := kmsg.NewMetadataResponseTopic()
					st.Topic, st.ErrorCode = rt.Topic, code
					resp.Topics = append(resp.Topics, st)
				}
			}
		}
	}
	a.journal.View(func(s *journal.State) {
		id := s.ClusterID
		resp.ClusterID = &id
		if r.Topics == nil {
			for _, name := range s.TopicNames() {
				resp.Topics = append(resp.Topics, a.topicMetadata(s.Topic(name)))
			}
			return
		}
		for _, rt := range r.Topics {
			var t *journal.Topic
			switch {
			case rt.Topic != nil:
				t = s.Topic(*rt.Topic)
				if t == nil {
					continue // answered above
				}
			default:
				t = s.TopicByID(journal.TopicID(rt.TopicID))
				if t == nil {
					st := kmsg.NewMetadataResponseTopic()
					st.TopicID, st.ErrorCode = rt.TopicID, kerr.UnknownTopicID.Code
					resp.Topics = append(resp.Topics, st)
					continue
				}
			}
			resp.Topics = append(resp.Topics, a.topicMetadata(t))
		}
	})
	return reply{resp: resp}
}

// brokers lists the agents clients may connect to.
func (a *Agent) brokers() []kmsg.MetadataResponseBroker {
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = a.nodeID, a.advertiseHost, a.advertisePort
	return []kmsg.MetadataResponseBroker{b}
}

// partitionOwner returns the node id of the agent that serves a partition.
func (a *Agent) partitionOwner(topic string, partition int32) int32 {
	return a.nodeID
}

func (a *Agent) topicMetadata(t *journal.Topic) kmsg.MetadataResponseTopic {
	st := kmsg.NewMetadataResponseTopic()
	name := t.Name
	st.Topic, st.TopicID = &name, t.ID
	for i := range t.Partitions {
		sp := kmsg.NewMetadataResponseTopicPartition()
		sp.Partition = int32(i)
		owner := a.partitionOwner(t.Name, int32(i))
		sp.Leader, sp.LeaderEpoch = owner, leaderEpoch
		sp.Replicas, sp.ISR = []int32{owner}, []int32{owner}
		st.Partitions = append(st.Partitions, sp)
	}
	return st
}
