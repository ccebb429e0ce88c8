package agent

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent/sharegroups"
	"github.com/silt-io/silt/agent/streamsgroups"
	"github.com/silt-io/silt/journal"
)

// Group configs: GROUP resources (type 32) of IncrementalAlterConfigs and
// DescribeConfigs, Kafka's GroupConfig (share.auto.offset.reset,
// share.record.lock.duration.ms, share.delivery.count.limit…, and the
// streams groups' streams.num.standby.replicas, streams.session.timeout.ms,
// streams.heartbeat.interval.ms), kept in the journal per group; any agent
// may alter or describe them.

// groupConfigDefault returns a group config's default, share or streams.
func groupConfigDefault(name string) (string, bool) {
	if v, ok := sharegroups.GroupConfigDefault(name); ok {
		return v, true
	}
	return streamsgroups.GroupConfigDefault(name)
}

// validateGroupConfig checks a group config's value, share or streams.
func validateGroupConfig(name, value string) error {
	if _, ok := sharegroups.GroupConfigDefault(name); ok {
		return sharegroups.ValidateGroupConfig(name, value)
	}
	return streamsgroups.ValidateGroupConfig(name, value)
}

// alterGroupConfigs checks one GROUP resource of IncrementalAlterConfigs
// and returns the command that applies it (nil if refused: sr says why).
func alterGroupConfigs(rr kmsg.IncrementalAlterConfigsRequestResource, sr *kmsg.IncrementalAlterConfigsResponseResource) *journal.Command {
	fail := func(code int16, msg string) {
		if sr.ErrorCode == 0 {
			sr.ErrorCode, sr.ErrorMessage = code, &msg
		}
	}
	if rr.ResourceName == "" {
		fail(kerr.InvalidRequest.Code, "a group config needs a group name")
		return nil
	}
	cmd := &journal.AlterGroupConfigs{Group: rr.ResourceName, Set: map[string]string{}}
	for _, rc := range rr.Configs {
		value := ""
		if rc.Value != nil {
			value = *rc.Value
		}
		switch rc.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			if err := validateGroupConfig(rc.Name, value); err != nil {
				fail(kerr.InvalidConfig.Code, err.Error())
				continue
			}
			cmd.Set[rc.Name] = value
		case kmsg.IncrementalAlterConfigOpDelete:
			if _, ok := groupConfigDefault(rc.Name); !ok {
				fail(kerr.InvalidConfig.Code, "unknown group config "+rc.Name)
				continue
			}
			cmd.Delete = append(cmd.Delete, rc.Name)
		default:
			fail(kerr.InvalidConfig.Code, "group configs take SET and DELETE")
		}
	}
	if sr.ErrorCode != 0 {
		return nil
	}
	return &journal.Command{AlterGroupConfigs: cmd}
}

// describeGroupConfigs lists a group's configs: its own values as
// GROUP_CONFIG, the rest as defaults.
func (a *Agent) describeGroupConfigs(group string, names []string, synonyms bool) []kmsg.DescribeConfigsResponseResourceConfig {
	var own map[string]string
	a.journal.View(func(s *journal.State) {
		own = make(map[string]string, len(s.GroupConfigs[group]))
		for k, v := range s.GroupConfigs[group] {
			own[k] = v
		}
	})
	keys := names
	if keys == nil {
		keys = append(sharegroups.GroupConfigNames(), streamsgroups.GroupConfigNames()...)
		slices.Sort(keys)
	}
	var out []kmsg.DescribeConfigsResponseResourceConfig
	for _, k := range keys {
		def, ok := groupConfigDefault(k)
		if !ok {
			continue
		}
		rc := kmsg.NewDescribeConfigsResponseResourceConfig()
		v, set := own[k]
		if !set {
			v = def
		}
		rc.Name, rc.Value, rc.IsDefault = k, &v, !set
		rc.Source = kmsg.ConfigSourceDefaultConfig
		if set {
			rc.Source = kmsg.ConfigSourceGroupConfig
		}
		if synonyms {
			syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			syn.Name, syn.Value, syn.Source = k, rc.Value, rc.Source
			rc.ConfigSynonyms = append(rc.ConfigSynonyms, syn)
		}
		out = append(out, rc)
	}
	return out
}
