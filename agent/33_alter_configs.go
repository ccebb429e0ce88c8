package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// AlterConfigs (key 33), versions 0-2.
//
// Behavior: the non-incremental form Kafka 4.x still serves: the configs
// given become the topic's whole set of explicit configs, every other key
// going back to its default, as on Kafka. Each value is validated as
// IncrementalAlterConfigs validates it (INVALID_CONFIG); a config with a
// null value is left out of the set. The resources that pass are
// committed in one journal entry; ValidateOnly writes nothing. Broker
// configs are read-only here: they are the agent's flags
// (INVALID_REQUEST). v1 and v2 differ from v0 only in encoding.
//
// With the authorizer on, as Kafka: a topic needs ALTER_CONFIGS on it
// (TOPIC_AUTHORIZATION_FAILED), the broker ALTER_CONFIGS on the cluster
// (CLUSTER_AUTHORIZATION_FAILED) and a group ALTER_CONFIGS on it
// (GROUP_AUTHORIZATION_FAILED).
func handleAlterConfigs(c *conn, req *request) reply {
	r := req.body.(*kmsg.AlterConfigsRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response {
		a := c.a
		resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
		var cmds []journal.Command
		var idx []int
		for _, rr := range r.Resources {
			sr := kmsg.NewAlterConfigsResponseResource()
			sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
			if code := c.configRefusal(rr.ResourceType, rr.ResourceName, acl.OpAlterConfigs); code != 0 {
				sr.ErrorCode = code
				resp.Resources = append(resp.Resources, sr)
				continue
			}
			code, msg := a.checkAlterConfigs(rr)
			if code != 0 {
				sr.ErrorCode = code
				if msg != "" {
					sr.ErrorMessage = &msg
				}
			} else if !r.ValidateOnly {
				cmd := &journal.AlterConfigs{Topic: rr.ResourceName, Set: map[string]string{}, Replace: true}
				for _, rc := range rr.Configs {
					if rc.Value != nil {
						cmd.Set[rc.Name] = *rc.Value
					}
				}
				cmds = append(cmds, journal.Command{AlterConfigs: cmd})
				idx = append(idx, len(resp.Resources))
			}
			resp.Resources = append(resp.Resources, sr)
		}
		for i, code := range a.submitEach(ctx, cmds) {
			resp.Resources[idx[i]].ErrorCode = code
		}
		return resp
	}}
}

// checkAlterConfigs validates one resource of an AlterConfigs request; it
// returns the error code and message, or 0.
func (a *Agent) checkAlterConfigs(rr kmsg.AlterConfigsRequestResource) (int16, string) {
	if rr.ResourceType != kmsg.ConfigResourceTypeTopic {
		return kerr.InvalidRequest.Code, "only topic configs can be altered; broker settings are the agent's flags"
	}
	found := false
	a.journal.View(func(s *journal.State) { found = s.Topic(rr.ResourceName) != nil })
	if !found {
		return kerr.UnknownTopicOrPartition.Code, ""
	}
	for _, rc := range rr.Configs {
		if rc.Value == nil {
			continue
		}
		if msg := validateTopicConfig(rc.Name, *rc.Value); msg != "" {
			return kerr.InvalidConfig.Code, msg
		}
	}
	return 0, ""
}
