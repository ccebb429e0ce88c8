package agent

import (
	"context"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// CreateTopics (key 19), versions 2-7.
//
// Behavior: creates each topic with its configs in one journal entry.
// NumPartitions -1 takes the agent's default partition count. Any
// replication factor is accepted (the object store is the replication).
// Explicit replica assignments are accepted as Kafka accepts them, when
// every replica names a live agent (INVALID_REPLICA_ASSIGNMENT otherwise);
// the partition count is then the number of assignments, which must be
// numbered 0 to n-1, and NumPartitions and ReplicationFactor must be -1
// (INVALID_REQUEST). They place nothing (see replicas.go). Configs
// are validated as IncrementalAlterConfigs does (INVALID_CONFIG). With
// ValidateOnly nothing is written. v5+ returns the topic's partitions,
// replication factor (1) and configs; v7 its id.
//
// With the authorizer on, as Kafka: a topic needs CREATE on the cluster or
// on itself (TOPIC_AUTHORIZATION_FAILED), and its configs are shown only
// with DESCRIBE_CONFIGS on it (else TOPIC_AUTHORIZATION_FAILED in the
// config error code).
func handleCreateTopics(c *conn, req *request) reply {
	r := req.body.(*kmsg.CreateTopicsRequest)
	// As Kafka: CREATE on the cluster allows every topic, else CREATE on
	// each; DESCRIBE_CONFIGS on a created topic to be shown its configs.
	creatable := c.permitted(acl.OpCreate, acl.ResourceCluster, acl.ClusterName)
	denied, hideConfigs := map[string]bool{}, map[string]bool{}
	for _, rt := range r.Topics {
		if !creatable && !c.authorizedTopic(acl.OpCreate, rt.Topic) {
			denied[rt.Topic] = true
		} else if !c.permitted(acl.OpDescribeConfigs, acl.ResourceTopic, rt.Topic) {
			hideConfigs[rt.Topic] = true
		}
	}
	return reply{wait: func(ctx context.Context) kmsg.Response { return c.a.createTopics(ctx, r, denied, hideConfigs) }}
}

// createTopics creates r's topics, but answers those in denied
// TOPIC_AUTHORIZATION_FAILED, and shows no configs of those in
// hideConfigs.
func (a *Agent) createTopics(ctx context.Context, r *kmsg.CreateTopicsRequest, denied, hideConfigs map[string]bool) *kmsg.CreateTopicsResponse {
	resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
	var cmds []journal.Command
	var cmdTopic []int // index in resp.Topics of each command
	seen := map[string]bool{}
	for _, rt := range r.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		fail := func(code int16, msg string) {
			st.ErrorCode = code
			if msg != "" {
				st.ErrorMessage = &msg
			}
		}
		parts := rt.NumPartitions
		if parts == -1 {
			parts = a.cfg.DefaultPartitions
		}
		configs := map[string]string{}
		for _, cfg := range rt.Configs {
			if cfg.Value == nil {
				continue
			}
			if msg := validateTopicConfig(cfg.Name, *cfg.Value); msg != "" && st.ErrorCode == 0 {
				fail(kerr.InvalidConfig.Code, msg)
			}
			configs[cfg.Name] = *cfg.Value
		}
		switch {
		case denied[rt.Topic]:
			fail(kerr.TopicAuthorizationFailed.Code, "")
		case st.ErrorCode != 0:
		case seen[rt.Topic]:
			fail(kerr.InvalidRequest.Code, "topic named twice in one request")
		case !journal.ValidTopicName(rt.Topic):
			fail(kerr.InvalidTopicException.Code, "")
		case internalTopic(rt.Topic):
			fail(kerr.TopicAlreadyExists.Code, "an internal topic: its content is kept in the journal")
		case len(rt.ReplicaAssignment) > 0 && (rt.NumPartitions != -1 || rt.ReplicationFactor != -1):
			fail(kerr.InvalidRequest.Code, "both a partition count or replication factor and replica assignments were given")
		case len(rt.ReplicaAssignment) > 0:
			if code, msg := a.checkAssignments(rt.ReplicaAssignment); code != 0 {
				fail(code, msg)
			}
			parts = int32(len(rt.ReplicaAssignment))
		case parts < 1 || parts > journal.MaxPartitions:
			fail(kerr.InvalidPartitions.Code, "partitions must be between 1 and "+strconv.Itoa(journal.MaxPartitions))
		case rt.ReplicationFactor == 0 || rt.ReplicationFactor < -1:
			fail(kerr.InvalidReplicationFactor.Code, "")
		}
		seen[rt.Topic] = true
		if st.ErrorCode == 0 {
			var exists bool
			a.journal.View(func(s *journal.State) { exists = s.Topic(rt.Topic) != nil })
			if exists {
				fail(kerr.TopicAlreadyExists.Code, "")
			}
		}
		if st.ErrorCode == 0 {
			st.NumPartitions, st.ReplicationFactor = parts, 1
			if !r.ValidateOnly {
				cmds = append(cmds, journal.Command{CreateTopic: &journal.CreateTopic{Name: rt.Topic, Partitions: parts, Configs: configs}})
				cmdTopic = append(cmdTopic, len(resp.Topics))
			}
			if r.Version >= 5 && hideConfigs[rt.Topic] {
				st.ConfigErrorCode = kerr.TopicAuthorizationFailed.Code
			} else if r.Version >= 5 {
				cfgs, _ := a.describeTopicConfigs(configs, nil, false, false)
				for _, c := range cfgs {
					tc := kmsg.NewCreateTopicsResponseTopicConfig()
					tc.Name, tc.Value, tc.ReadOnly, tc.Source, tc.IsSensitive = c.Name, c.Value, c.ReadOnly, int8(c.Source), false
					st.Configs = append(st.Configs, tc)
				}
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(cmds) == 0 {
		return resp
	}
	res, code := a.submit(ctx, cmds...)
	for i, ti := range cmdTopic {
		st := &resp.Topics[ti]
		if code != 0 {
			st.ErrorCode = code
		} else {
			st.ErrorCode, st.TopicID = res[i].Code, res[i].TopicID
		}
		if st.ErrorCode != 0 {
			st.NumPartitions, st.ReplicationFactor, st.Configs = -1, -1, nil
		} else {
			a.log.Info("created topic", "topic", st.Topic, "partitions", st.NumPartitions)
		}
	}
	return resp
}
