package compat

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestKafkaGo produces keyed records with segmentio/kafka-go's Writer
// (acks=all) and consumes them with two kafka-go Readers in one group,
// each fetching and committing every message synchronously: every record
// is consumed exactly once, in order per partition, the two readers split
// the partitions, and the committed offsets end at the partitions' ends.
func TestKafkaGo(t *testing.T) {
	const (
		topic      = "kafka-go"
		group      = "kafka-go-group"
		partitions = 4
		n          = 1000
	)
	c := startCluster(t, time.Second)
	adm := newAdmin(t, c)
	createTopic(t, adm, topic, partitions)
	ctx := testContext(t, 25*time.Second)

	acked := newLedger()
	var mu sync.Mutex
	var produceErr error
	w := &kafka.Writer{
		Addr:         kafka.TCP(c.Seeds()...),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond,
		// Completion is told where each batch's messages were stored.
		Completion: func(msgs []kafka.Message, err error) {
			if err != nil {
				mu.Lock()
				produceErr = errors.Join(produceErr, err)
				mu.Unlock()
				return
			}
			for _, m := range msgs {
				acked.add("writer", record{int32(m.Partition), m.Offset, string(m.Key), string(m.Value)})
			}
		},
	}
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte(testKey(i)), Value: []byte(testValue(i))}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("kafka-go WriteMessages: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close kafka-go writer: %v", err)
	}
	if produceErr != nil {
		t.Fatalf("kafka-go writer completion: %v", produceErr)
	}
	ends := endOffsets(t, adm, topic)
	produced := checkProduced(t, acked, n, ends)

	consumed := newLedger()
	members := []string{"reader-a", "reader-b"}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var readers []*kafka.Reader
	for _, name := range members {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers:           c.Seeds(),
			GroupID:           group,
			Topic:             topic,
			StartOffset:       kafka.FirstOffset,
			MaxWait:           250 * time.Millisecond,
			HeartbeatInterval: time.Second,
			ErrorLogger: kafka.LoggerFunc(func(format string, args ...any) {
				if runCtx.Err() == nil {
					t.Logf(name+": "+format, args...)
				}
			}),
		})
		readers = append(readers, r)
		wg.Go(func() {
			for {
				m, err := r.FetchMessage(runCtx)
				if err != nil {
					if runCtx.Err() == nil {
						t.Errorf("%s: FetchMessage: %v", name, err)
					}
					return
				}
				consumed.add(name, record{int32(m.Partition), m.Offset, string(m.Key), string(m.Value)})
				if err := r.CommitMessages(runCtx, m); err != nil {
					if runCtx.Err() == nil {
						t.Errorf("%s: CommitMessages: %v", name, err)
					}
					return
				}
			}
		})
	}
	// closeReaders leaves the group; a failing test leaves it too.
	closeReaders := sync.OnceFunc(func() {
		stop()
		wg.Wait()
		for _, r := range readers {
			if err := r.Close(); err != nil {
				t.Errorf("close kafka-go reader: %v", err)
			}
		}
	})
	t.Cleanup(closeReaders)
	consumed.waitFor(t, ctx, n)
	waitCommitted(t, adm, group, topic, ends)
	closeReaders()

	parts := checkConsumedOnce(t, produced, consumed)
	checkMembersShared(t, parts, members)
	t.Logf("kafka-go: %d records over %d partitions; partitions by reader: %v", n, partitions, parts)
	waitCommitted(t, adm, group, topic, ends)
}
