package compat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// saramaVersion is the Kafka version sarama is told the broker runs: the
// request versions it sends are those of that release.
var saramaVersion = sarama.V4_0_0_0

// TestSarama produces keyed records with sarama's idempotent SyncProducer
// and consumes them with a sarama ConsumerGroup of two members that mark
// each message and commit: every record is consumed exactly once, in order
// per partition, the two members split the partitions, and the committed
// offsets end at the partitions' ends.
func TestSarama(t *testing.T) {
	const (
		topic      = "sarama"
		group      = "sarama-group"
		partitions = 4
		n          = 1000
		batch      = 100
	)
	c := startCluster(t, time.Second)
	adm := newAdmin(t, c)
	createTopic(t, adm, topic, partitions)
	ctx := testContext(t, 25*time.Second)

	// Produce, a batch at a time: SendMessages hands the whole batch to
	// the producer at once and waits for every acknowledgement.
	pcfg := sarama.NewConfig()
	pcfg.Version = saramaVersion
	pcfg.ClientID = "silt-compat-sarama-producer"
	pcfg.Producer.Idempotent = true
	pcfg.Net.MaxOpenRequests = 1
	pcfg.Producer.RequiredAcks = sarama.WaitForAll
	pcfg.Producer.Return.Successes = true
	prod, err := sarama.NewSyncProducer(c.Seeds(), pcfg)
	if err != nil {
		t.Fatalf("sarama producer: %v", err)
	}
	acked := newLedger()
	for first := 0; first < n; first += batch {
		msgs := make([]*sarama.ProducerMessage, 0, batch)
		for i := first; i < first+batch; i++ {
			msgs = append(msgs, &sarama.ProducerMessage{
				Topic: topic,
				Key:   sarama.StringEncoder(testKey(i)),
				Value: sarama.StringEncoder(testValue(i)),
			})
		}
		if err := prod.SendMessages(msgs); err != nil {
			var perrs sarama.ProducerErrors
			if errors.As(err, &perrs) && len(perrs) > 0 {
				err = fmt.Errorf("%d failed, the first: %w", len(perrs), perrs[0].Err)
			}
			t.Fatalf("sarama SendMessages: %v", err)
		}
		for _, m := range msgs {
			acked.add("producer", record{m.Partition, m.Offset, string(m.Key.(sarama.StringEncoder)), string(m.Value.(sarama.StringEncoder))})
		}
	}
	if err := prod.Close(); err != nil {
		t.Fatalf("close sarama producer: %v", err)
	}
	ends := endOffsets(t, adm, topic)
	produced := checkProduced(t, acked, n, ends)

	// Consume with two members started together.
	consumed := newLedger()
	members := []string{"member-a", "member-b"}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var groups []sarama.ConsumerGroup
	for _, name := range members {
		ccfg := sarama.NewConfig()
		ccfg.Version = saramaVersion
		ccfg.ClientID = "silt-compat-sarama-" + name
		ccfg.Consumer.Offsets.Initial = sarama.OffsetOldest
		ccfg.Consumer.Offsets.AutoCommit.Interval = 200 * time.Millisecond
		ccfg.Consumer.Return.Errors = true
		cg, err := sarama.NewConsumerGroup(c.Seeds(), group, ccfg)
		if err != nil {
			t.Fatalf("sarama consumer group: %v", err)
		}
		groups = append(groups, cg)
		h := saramaHandler{name: name, got: consumed}
		wg.Go(func() {
			for runCtx.Err() == nil {
				if err := cg.Consume(runCtx, []string{topic}, h); err != nil && runCtx.Err() == nil {
					t.Errorf("%s: Consume: %v", name, err)
					return
				}
			}
		})
		wg.Go(func() {
			for err := range cg.Errors() {
				t.Errorf("%s: %v", name, err)
			}
		})
	}
	// closeGroups leaves the group; a failing test leaves it too.
	closeGroups := sync.OnceFunc(func() {
		stop()
		for _, cg := range groups {
			if err := cg.Close(); err != nil {
				t.Errorf("close consumer group: %v", err)
			}
		}
		wg.Wait()
	})
	t.Cleanup(closeGroups)
	consumed.waitFor(t, ctx, n)
	waitCommitted(t, adm, group, topic, ends)
	closeGroups()

	parts := checkConsumedOnce(t, produced, consumed)
	checkMembersShared(t, parts, members)
	t.Logf("sarama %s: %d records over %d partitions; partitions by member: %v", saramaVersion, n, partitions, parts)
	// Closing the members must not have moved the offsets.
	waitCommitted(t, adm, group, topic, ends)
}

// saramaHandler records each message it is given and marks it consumed;
// sarama's auto-commit commits the marks.
type saramaHandler struct {
	name string
	got  *ledger
}

func (saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h saramaHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			h.got.add(h.name, record{m.Partition, m.Offset, string(m.Key), string(m.Value)})
			sess.MarkMessage(m, "")
		case <-sess.Context().Done():
			return nil
		}
	}
}
