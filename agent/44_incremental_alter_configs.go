package agent

import (
	"context"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// IncrementalAlterConfigs (key 44), versions 0-1.
//
// Behavior: SET and DELETE on topic configs, validated against the keys
// and types silt accepts (INVALID_CONFIG otherwise), then committed in one
// journal entry; APPEND and SUBTRACT work on list configs
// (cleanup.policy). Group configs (GROUP resources: share.auto.offset.reset,
// share.record.lock.duration.ms, share.delivery.count.limit…) take SET and
// DELETE (group_configs.go). ValidateOnly writes nothing. Broker configs
// are read-only here: they are the agent's flags (INVALID_REQUEST).
//
// With the authorizer on, as Kafka: a topic needs ALTER_CONFIGS on it
// (TOPIC_AUTHORIZATION_FAILED), the broker ALTER_CONFIGS on the cluster
// (CLUSTER_AUTHORIZATION_FAILED) and a group ALTER_CONFIGS on it
// (GROUP_AUTHORIZATION_FAILED).
func handleIncrementalAlterConfigs(c *conn, req *request) reply {
	r := req.body.(*kmsg.IncrementalAlterConfigsRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response {
		a := c.a
		resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
		var cmds []journal.Command
		var idx []int
		for _, rr := range r.Resources {
			sr := kmsg.NewIncrementalAlterConfigsResponseResource()
			sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
			if code := c.configRefusal(rr.ResourceType, rr.ResourceName, acl.OpAlterConfigs); code != 0 {
				sr.ErrorCode = code
				resp.Resources = append(resp.Resources, sr)
				continue
			}
			fail := func(code int16, msg string) {
				if sr.ErrorCode == 0 {
					sr.ErrorCode, sr.ErrorMessage = code, &msg
				}
			}
			if rr.ResourceType == kmsg.ConfigResourceTypeGroupConfig {
				if cmd := alterGroupConfigs(rr, &sr); cmd != nil && !r.ValidateOnly {
					cmds = append(cmds, *cmd)
					idx = append(idx, len(resp.Resources))
				}
				resp.Resources = append(resp.Resources, sr)
				continue
			}
			if rr.ResourceType != kmsg.ConfigResourceTypeTopic {
				fail(kerr.InvalidRequest.Code, "only topic and group configs can be altered; broker settings are the agent's flags")
				resp.Resources = append(resp.Resources, sr)
				continue
			}
			var current map[string]string
			found := false
			a.journal.View(func(s *journal.State) {
				if t := s.Topic(rr.ResourceName); t != nil {
					found = true
					current = make(map[string]string, len(t.Configs))
					for k, v := range t.Configs {
						current[k] = v
					}
				}
			})
			if !found {
				sr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				resp.Resources = append(resp.Resources, sr)
				continue
			}
			cmd := &journal.AlterConfigs{Topic: rr.ResourceName, Set: map[string]string{}}
			for _, rc := range rr.Configs {
				if _, known := topicConfigs[rc.Name]; !known {
					fail(kerr.InvalidConfig.Code, "unknown topic config "+rc.Name)
					continue
				}
				value := ""
				if rc.Value != nil {
					value = *rc.Value
				}
				switch rc.Op {
				case kmsg.IncrementalAlterConfigOpSet:
				case kmsg.IncrementalAlterConfigOpDelete:
					cmd.Delete = append(cmd.Delete, rc.Name)
					continue
				case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
					if topicConfigs[rc.Name].typ != typeList {
						fail(kerr.InvalidConfig.Code, rc.Name+" is not a list")
						continue
					}
					value = alterList(a.topicConfigValue(current, rc.Name), value, rc.Op == kmsg.IncrementalAlterConfigOpAppend)
				default:
					fail(kerr.InvalidRequest.Code, "unknown operation")
					continue
				}
				if msg := validateTopicConfig(rc.Name, value); msg != "" {
					fail(kerr.InvalidConfig.Code, msg)
					continue
				}
				cmd.Set[rc.Name] = value
			}
			if sr.ErrorCode == 0 && !r.ValidateOnly {
				cmds = append(cmds, journal.Command{AlterConfigs: cmd})
				idx = append(idx, len(resp.Resources))
			}
			resp.Resources = append(resp.Resources, sr)
		}
		if len(cmds) > 0 {
			res, code := a.submit(ctx, cmds...)
			for i, ri := range idx {
				if code != 0 {
					resp.Resources[ri].ErrorCode = code
				} else {
					resp.Resources[ri].ErrorCode = res[i].Code
				}
			}
		}
		return resp
	}}
}

// alterList appends values to, or removes them from, a comma-separated
// list, keeping each element once.
func alterList(current, values string, add bool) string {
	var out []string
	has := map[string]bool{}
	remove := map[string]bool{}
	for _, v := range strings.Split(values, ",") {
		if v = strings.TrimSpace(v); v != "" {
			remove[v] = !add
		}
	}
	for _, v := range strings.Split(current, ",") {
		if v = strings.TrimSpace(v); v != "" && !has[v] && !remove[v] {
			has[v] = true
			out = append(out, v)
		}
	}
	if add {
		for _, v := range strings.Split(values, ",") {
			if v = strings.TrimSpace(v); v != "" && !has[v] {
				has[v] = true
				out = append(out, v)
			}
		}
	}
	return strings.Join(out, ",")
}
