package agent

import (
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent/offsetstopic"
	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// DescribeConfigs (key 32), versions 1-4.
//
// Behavior: a topic's configs are every key silt accepts (see
// topicConfigs), with the topic's own values marked DYNAMIC_TOPIC_CONFIG
// and the rest the defaults (__consumer_offsets is compacted, as on Kafka);
// a broker's are the agent's settings, read-only;
// a group's are the group configs, its own marked GROUP_CONFIG.
// Synonyms (v1+) list only the value's own source; documentation (v3+)
// says what silt does with the key. Other resource types are
// INVALID_REQUEST.
//
// With the authorizer on, as Kafka: a topic needs DESCRIBE_CONFIGS on it
// (TOPIC_AUTHORIZATION_FAILED), the broker DESCRIBE_CONFIGS on the cluster
// (CLUSTER_AUTHORIZATION_FAILED) and a group DESCRIBE_CONFIGS on it
// (GROUP_AUTHORIZATION_FAILED).
func handleDescribeConfigs(c *conn, req *request) reply {
	r := req.body.(*kmsg.DescribeConfigsRequest)
	a := c.a
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range r.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		if code := c.configRefusal(rr.ResourceType, rr.ResourceName, acl.OpDescribeConfigs); code != 0 {
			sr.ErrorCode = code
			resp.Resources = append(resp.Resources, sr)
			continue
		}
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			var configs map[string]string
			found := false
			a.journal.View(func(s *journal.State) {
				if rr.ResourceName == offsetstopic.Topic {
					// As Kafka sets it up: a compacted topic.
					found, configs = true, map[string]string{"cleanup.policy": "compact"}
				}
				if t := s.Topic(rr.ResourceName); t != nil {
					found = true
					configs = make(map[string]string, len(t.Configs))
					for k, v := range t.Configs {
						configs[k] = v
					}
				}
			})
			if !found {
				sr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				break
			}
			sr.Configs, _ = a.describeTopicConfigs(configs, rr.ConfigNames, r.IncludeSynonyms, r.IncludeDocumentation)
		case kmsg.ConfigResourceTypeBroker:
			if rr.ResourceName != "" && rr.ResourceName != strconv.Itoa(int(a.nodeID)) {
				sr.ErrorCode = kerr.InvalidRequest.Code
				msg := "no broker with that id here"
				sr.ErrorMessage = &msg
				break
			}
			sr.Configs = a.describeBrokerConfigs(rr.ConfigNames)
		case kmsg.ConfigResourceTypeGroupConfig:
			sr.Configs = a.describeGroupConfigs(rr.ResourceName, rr.ConfigNames, r.IncludeSynonyms)
		default:
			sr.ErrorCode = kerr.InvalidRequest.Code
			msg := "only topic, broker and group configs are described"
			sr.ErrorMessage = &msg
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return reply{resp: resp}
}

// describeBrokerConfigs lists the agent settings a Kafka tool may ask a
// broker about, under Kafka's names.
func (a *Agent) describeBrokerConfigs(names []string) []kmsg.DescribeConfigsResponseResourceConfig {
	settings := [][2]string{
		{"auto.create.topics.enable", strconv.FormatBool(a.cfg.AutoCreateTopics)},
		{"default.replication.factor", "1"},
		{"log.retention.ms", topicConfigs["retention.ms"].def},
		{"message.max.bytes", strconv.Itoa(int(a.cfg.MessageMaxBytes))},
		{"min.insync.replicas", "1"},
		{"num.partitions", strconv.Itoa(int(a.cfg.DefaultPartitions))},
		{"offsets.retention.minutes", "10080"},
		{"broker.id", strconv.Itoa(int(a.nodeID))},
	}
	var out []kmsg.DescribeConfigsResponseResourceConfig
	for _, s := range settings {
		if names != nil && !slices.Contains(names, s[0]) {
			continue
		}
		rc := kmsg.NewDescribeConfigsResponseResourceConfig()
		v := s[1]
		rc.Name, rc.Value, rc.ReadOnly = s[0], &v, true
		rc.Source = kmsg.ConfigSourceStaticBrokerConfig
		out = append(out, rc)
	}
	return out
}
