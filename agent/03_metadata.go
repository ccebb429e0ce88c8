package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent/offsetstopic"
	"github.com/silt-io/silt/gossip"
	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// Metadata (key 3), versions 1-12.
//
// Behavior: lists the live agents (only those of the client's zone when
// its client.id names one as silt_zone=NAME and any agent is in it) and,
// for every topic asked for (all topics when the list is null), its id and
// partitions. Each partition's leader, replicas and in-sync replicas are
// the agent that owns it by rendezvous hashing over those agents; the
// leader epoch is constant (see leaderEpoch). The controller is the
// journal committer. Unknown topics are created when
// auto-creation is on and the request allows it (v4+), and, as on Kafka,
// the request that creates one is answered LEADER_NOT_AVAILABLE without
// partitions (clients ask again); otherwise they are
// UNKNOWN_TOPIC_OR_PARTITION, and invalid names INVALID_TOPIC_EXCEPTION.
// v10+ may name topics by id. Authorized operations (v8+, when asked: of
// the cluster up to v10, of each topic found) are computed from the ACLs
// with the authorizer on, and every operation without it (authorized.go).
// __consumer_offsets is listed as an internal topic (internal_topics.go).
// With the authorizer on, as Kafka: a listing of all topics leaves out
// those the client may not DESCRIBE; a topic asked for by name or id that
// it may not DESCRIBE is TOPIC_AUTHORIZATION_FAILED, and so is a missing
// one it may not have created (CREATE on the cluster or the topic).
func handleMetadata(c *conn, req *request) reply {
	r := req.body.(*kmsg.MetadataRequest)
	a := c.a
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	zone := clientZone(req.clientID)
	resp.Brokers = a.brokers(zone, c.listenerName())
	resp.ControllerID = a.controllerID()
	members := gossip.InZone(a.cluster.members(), zone)

	allowCreate := a.cfg.AutoCreateTopics && (r.Version < 4 || r.AllowAutoTopicCreation)
	// As Kafka does, a request that names any topic by id (v12+) is
	// answered by id; the names then do not count (the Java client sends
	// "" beside each id).
	byID := false
	for _, rt := range r.Topics {
		byID = byID || rt.TopicID != [16]byte{}
	}
	describable := c.describableTopics(r, byID)
	if r.Topics != nil && !byID {
		for _, rt := range r.Topics {
			if rt.Topic != nil && *rt.Topic != offsetstopic.Topic {
				existed := false
				a.journal.View(func(s *journal.State) { existed = s.Topic(*rt.Topic) != nil })
				if !describable(*rt.Topic) || (!existed && allowCreate && !c.mayCreateTopic(*rt.Topic)) {
					st := kmsg.NewMetadataResponseTopic()
					st.Topic, st.ErrorCode = rt.Topic, kerr.TopicAuthorizationFailed.Code
					resp.Topics = append(resp.Topics, st)
					continue
				}
				_, code := a.lookupTopic(c.ctx, *rt.Topic, allowCreate)
				if code == 0 && !existed {
					code = kerr.LeaderNotAvailable.Code // created by this request
				}
				if code != 0 {
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
				if describable(name) {
					resp.Topics = append(resp.Topics, a.topicMetadata(members, s.Topic(name)))
				}
			}
			if describable(offsetstopic.Topic) {
				resp.Topics = append(resp.Topics, a.offsetsTopicMetadata(s, members))
			}
			return
		}
		for _, rt := range r.Topics {
			var t *journal.Topic
			switch {
			case byID && rt.TopicID == [16]byte{}:
				continue
			case !byID && rt.Topic != nil && *rt.Topic == offsetstopic.Topic,
				byID && rt.TopicID == offsetsTopicID(s):
				if !describable(offsetstopic.Topic) {
					st := kmsg.NewMetadataResponseTopic()
					st.Topic, st.TopicID, st.ErrorCode = rt.Topic, rt.TopicID, kerr.TopicAuthorizationFailed.Code
					resp.Topics = append(resp.Topics, st)
					continue
				}
				resp.Topics = append(resp.Topics, a.offsetsTopicMetadata(s, members))
				continue
			case !byID && rt.Topic != nil:
				if answered(resp.Topics, *rt.Topic) {
					continue
				}
				if t = s.Topic(*rt.Topic); t == nil { // deleted again since
					st := kmsg.NewMetadataResponseTopic()
					st.Topic, st.ErrorCode = rt.Topic, kerr.UnknownTopicOrPartition.Code
					resp.Topics = append(resp.Topics, st)
					continue
				}
			default:
				t = s.TopicByID(journal.TopicID(rt.TopicID))
				if t == nil || !describable(t.Name) {
					st := kmsg.NewMetadataResponseTopic()
					st.TopicID, st.ErrorCode = rt.TopicID, kerr.UnknownTopicID.Code
					if t != nil {
						st.ErrorCode = kerr.TopicAuthorizationFailed.Code
					}
					resp.Topics = append(resp.Topics, st)
					continue
				}
			}
			resp.Topics = append(resp.Topics, a.topicMetadata(members, t))
		}
	})
	if r.IncludeClusterAuthorizedOperations && r.Version <= 10 {
		// As Kafka: none at all without DESCRIBE on the cluster.
		resp.AuthorizedOperations = 0
		if c.permitted(acl.OpDescribe, acl.ResourceCluster, acl.ClusterName) {
			resp.AuthorizedOperations = c.authorizedOps(acl.ResourceCluster, acl.ClusterName, clusterOps)
		}
	}
	if r.IncludeTopicAuthorizedOperations {
		for i := range resp.Topics {
			if resp.Topics[i].ErrorCode == 0 && resp.Topics[i].Topic != nil {
				resp.Topics[i].AuthorizedOperations = c.authorizedOps(acl.ResourceTopic, *resp.Topics[i].Topic, topicOps)
			}
		}
	}
	return reply{resp: resp}
}

func (a *Agent) topicMetadata(members []gossip.Member, t *journal.Topic) kmsg.MetadataResponseTopic {
	st := kmsg.NewMetadataResponseTopic()
	name := t.Name
	st.Topic, st.TopicID = &name, t.ID
	for i := range t.Partitions {
		sp := kmsg.NewMetadataResponseTopicPartition()
		sp.Partition = int32(i)
		owner := a.partitionOwner(members, t.Name, int32(i))
		sp.Leader, sp.LeaderEpoch = owner, leaderEpoch
		sp.Replicas, sp.ISR = []int32{owner}, []int32{owner}
		st.Partitions = append(st.Partitions, sp)
	}
	return st
}

// answered reports whether topics already holds an answer (an error) for
// the named topic.
func answered(topics []kmsg.MetadataResponseTopic, name string) bool {
	for _, t := range topics {
		if t.Topic != nil && *t.Topic == name {
			return true
		}
	}
	return false
}

// describableTopics decides which topics a Metadata request may see: a
// listing of all of them quietly, those it names (or names by id) with a
// logged refusal.
func (c *conn) describableTopics(r *kmsg.MetadataRequest, byID bool) func(string) bool {
	if !c.a.authz.on {
		return func(string) bool { return true }
	}
	var named, listed []string
	c.a.journal.View(func(s *journal.State) {
		switch {
		case r.Topics == nil:
			listed = append(s.TopicNames(), offsetstopic.Topic)
		case byID:
			for _, rt := range r.Topics {
				if t := s.TopicByID(journal.TopicID(rt.TopicID)); t != nil {
					named = append(named, t.Name)
				} else if rt.TopicID == offsetsTopicID(s) {
					named = append(named, offsetstopic.Topic)
				}
			}
		default:
			for _, rt := range r.Topics {
				if rt.Topic != nil {
					named = append(named, *rt.Topic)
				}
			}
		}
	})
	return c.describableTopicNames(named, listed)
}

// describableTopicNames decides, before the state is read (no check may
// run under the state lock), which topics a request may see: those it
// names with a logged refusal, those listed for it quietly. A topic in
// neither is not seen. With the authorizer off, every topic.
func (c *conn) describableTopicNames(named, listed []string) func(string) bool {
	if !c.a.authz.on {
		return func(string) bool { return true }
	}
	ok := make(map[string]bool, len(named)+len(listed))
	for _, n := range listed {
		ok[n] = c.permitted(acl.OpDescribe, acl.ResourceTopic, n)
	}
	for _, n := range named {
		ok[n] = c.authorizedTopic(acl.OpDescribe, n)
	}
	return func(name string) bool { return ok[name] }
}
