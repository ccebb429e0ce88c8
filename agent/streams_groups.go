package agent

import (
	"context"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/agent/streamsgroups"
	"github.com/silt-io/silt/journal"
)

// What streams groups (agent/streamsgroups) need of the agent: the topics
// in the journal, internal topics created as CreateTopics creates any
// topic, and whether a group id is taken by another type of group.

// newStreamsGroups starts the streams groups service.
func (a *Agent) newStreamsGroups() *streamsgroups.Service {
	return streamsgroups.New(streamsgroups.Env{
		Logger: a.log, OwnsGroup: a.ownsGroup, Topics: journalTopics{a.journal},
		CreateTopics: a.createStreamsTopics, OtherType: a.groupOfOtherType,
		Journal: a.journal, Submit: a.submit, Claim: a.groups.Claim, CommitTimeout: a.cfg.CommitTimeout,
		GroupConfigs: func(group string) map[string]string {
			var own map[string]string
			a.journal.View(func(s *journal.State) { own = maps.Clone(s.GroupConfigs[group]) })
			return own
		},
	})
}

// journalTopics reads topics from the replayed journal.
type journalTopics struct{ j *journal.Log }

func (t journalTopics) Partitions(topic string) (int32, bool) {
	var n int32
	var ok bool
	t.j.View(func(s *journal.State) {
		if tt := s.Topic(topic); tt != nil {
			n, ok = int32(len(tt.Partitions)), true
		}
	})
	return n, ok
}

func (t journalTopics) Names() []string {
	var names []string
	t.j.View(func(s *journal.State) { names = slices.Sorted(maps.Keys(s.Topics)) })
	return names
}

// createStreamsTopics creates a streams application's internal topics
// through the CreateTopics path (validation, journal), with the configs
// the application asked for.
func (a *Agent) createStreamsTopics(ctx context.Context, topics []streamsgroups.NewTopic) map[string]string {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	for _, nt := range topics {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = nt.Name, nt.Partitions, -1
		for _, k := range slices.Sorted(maps.Keys(nt.Configs)) {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			v := nt.Configs[k]
			c.Name, c.Value = k, &v
			rt.Configs = append(rt.Configs, c)
		}
		req.Topics = append(req.Topics, rt)
	}
	out := map[string]string{}
	for _, st := range a.createTopics(ctx, req, nil, nil).Topics {
		if st.ErrorCode == 0 || st.ErrorCode == kerr.TopicAlreadyExists.Code {
			continue
		}
		msg := kerr.ErrorForCode(st.ErrorCode).Error()
		if st.ErrorMessage != nil {
			msg += ": " + *st.ErrorMessage
		}
		out[st.Topic] = msg
	}
	return out
}

// groupOfOtherType reports whether a group id is a share group, or a
// classic or consumer group with members.
func (a *Agent) groupOfOtherType(group string) bool {
	if a.shares.IsShareGroup(group) {
		return true
	}
	switch a.groups.Describe(group, false).State {
	case "Empty", "Dead", "":
		return false
	}
	return true
}

// streamsGroupError answers a request of another group type naming a
// streams group, as Kafka does: GROUP_ID_NOT_FOUND.
func streamsGroupError(group string) (int16, *string) {
	msg := "group " + group + " is a streams group"
	return kerr.GroupIDNotFound.Code, &msg
}
