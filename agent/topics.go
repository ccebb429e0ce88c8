package agent

import (
	"context"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/silt-io/silt/journal"
)

// topicInfo is what the produce path needs of a topic, copied out of the
// state so no lock is held while it is used.
type topicInfo struct {
	id              journal.TopicID
	partitions      int32
	maxMessageBytes int
	policy          appendPolicy
}

func (a *Agent) topicInfo(s *journal.State, name string) (topicInfo, bool) {
	t := s.Topic(name)
	if t == nil {
		return topicInfo{}, false
	}
	mmb, err := strconv.Atoi(a.topicConfigValue(t.Configs, "max.message.bytes"))
	if err != nil {
		mmb = int(a.cfg.MessageMaxBytes)
	}
	return topicInfo{id: t.ID, partitions: int32(len(t.Partitions)), maxMessageBytes: mmb, policy: a.topicPolicy(t.Configs)}, true
}

// peekTopic returns a topic from the replayed state without waiting for
// anything: the topic, or the code to answer, or toCreate when the topic
// does not exist and create is set (the caller creates it with
// lookupTopic, off the connection's reader).
func (a *Agent) peekTopic(name string, create bool) (info topicInfo, code int16, toCreate bool) {
	var ok bool
	a.journal.View(func(s *journal.State) { info, ok = a.topicInfo(s, name) })
	switch {
	case ok:
		return info, 0, false
	case !journal.ValidTopicName(name):
		return topicInfo{}, kerr.InvalidTopicException.Code, false
	case !create:
		return topicInfo{}, kerr.UnknownTopicOrPartition.Code, false
	}
	return topicInfo{}, 0, true
}

// lookupTopic returns a topic, creating it with the default partition count
// if it does not exist and create is true (auto.create.topics.enable). The
// code is UNKNOWN_TOPIC_OR_PARTITION or INVALID_TOPIC_EXCEPTION when there
// is no topic to use.
func (a *Agent) lookupTopic(ctx context.Context, name string, create bool) (topicInfo, int16) {
	var (
		info topicInfo
		ok   bool
	)
	a.journal.View(func(s *journal.State) { info, ok = a.topicInfo(s, name) })
	if ok {
		return info, 0
	}
	if !journal.ValidTopicName(name) || internalTopic(name) {
		return topicInfo{}, kerr.InvalidTopicException.Code
	}
	if !create {
		return topicInfo{}, kerr.UnknownTopicOrPartition.Code
	}
	if code := a.createTopic(ctx, name, a.cfg.DefaultPartitions, nil); code != 0 && code != kerr.TopicAlreadyExists.Code {
		return topicInfo{}, code
	}
	a.journal.View(func(s *journal.State) { info, ok = a.topicInfo(s, name) })
	if !ok {
		return topicInfo{}, kerr.UnknownTopicOrPartition.Code // deleted again at once
	}
	return info, 0
}

// createTopic commits a CreateTopic command and returns its code.
func (a *Agent) createTopic(ctx context.Context, name string, partitions int32, configs map[string]string) int16 {
	_, res, err := a.proposer.Submit(ctx, []journal.Command{{CreateTopic: &journal.CreateTopic{
		Name: name, Partitions: partitions, Configs: configs,
	}}})
	if err != nil {
		a.log.Warn("create topic failed", "topic", name, "err", err)
		return kerr.RequestTimedOut.Code
	}
	if res[0].Code == 0 {
		a.log.Info("created topic", "topic", name, "partitions", partitions)
	}
	return res[0].Code
}

// submit commits commands, mapping a journal failure to the Kafka code a
// client retries on.
func (a *Agent) submit(ctx context.Context, cmds ...journal.Command) ([]journal.Result, int16) {
	_, res, err := a.proposer.Submit(ctx, cmds)
	if err != nil {
		a.log.Warn("journal commit failed", "err", err)
		return nil, kerr.RequestTimedOut.Code
	}
	return res, 0
}

// submitEach commits commands in one entry and returns each one's code: its
// result, or the journal failure's code for all of them. No commands, no
// entry.
func (a *Agent) submitEach(ctx context.Context, cmds []journal.Command) []int16 {
	if len(cmds) == 0 {
		return nil
	}
	codes := make([]int16, len(cmds))
	res, code := a.submit(ctx, cmds...)
	for i := range codes {
		if code != 0 {
			codes[i] = code
		} else {
			codes[i] = res[i].Code
		}
	}
	return codes
}
