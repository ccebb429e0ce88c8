package agent

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/objstore/mem"
	"github.com/silt-io/silt/recordbatch"
)

func TestByteBudget(t *testing.T) {
	ctx := context.Background()
	b := newByteBudget(100, prometheus.NewRegistry())
	took := func(n int64) int64 {
		t.Helper()
		got, err := b.acquire(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	granted := func(n int64) (chan int64, context.CancelFunc) {
		c := make(chan int64, 1)
		wctx, cancel := context.WithCancel(ctx)
		go func() {
			got, err := b.acquire(wctx, n)
			if err != nil {
				got = -1
			}
			c <- got
		}()
		return c, cancel
	}
	waiting := func(c chan int64) bool {
		select {
		case <-c:
			return false
		case <-time.After(20 * time.Millisecond):
			return true
		}
	}
	a := took(60)
	big, cancelBig := granted(500) // more than the budget: waits for all of it
	if !waiting(big) {
		t.Fatal("a request larger than the free bytes did not wait")
	}
	small, _ := granted(10) // fits, but waits its turn behind the big one
	if !waiting(small) {
		t.Fatal("a later request went ahead of one waiting")
	}
	cancelBig()
	if got := <-big; got != -1 {
		t.Errorf("cancelled acquire took %d", got)
	}
	if got := <-small; got != 10 {
		t.Errorf("after the head gave up, the next took %d, want 10", got)
	}
	b.release(10)
	big, _ = granted(500)
	if !waiting(big) {
		t.Fatal("the big request did not wait for the 60 bytes held")
	}
	b.release(a)
	if got := <-big; got != 100 {
		t.Errorf("the big request took %d, want the whole budget", got)
	}
	b.release(100)
	if b.mu.used != 0 || len(b.mu.waiters) != 0 {
		t.Errorf("used %d, %d waiters after all released", b.mu.used, len(b.mu.waiters))
	}
}

// segmentSink is a memory bucket that keeps journal entries but throws
// segment bodies away, so a test can push gigabytes through an agent
// without the bucket itself filling the process's memory.
type segmentSink struct{ objstore.Bucket }

func (s segmentSink) Put(ctx context.Context, key string, data []byte) (string, error) {
	if strings.HasPrefix(key, "segments/") {
		data = nil
	}
	return s.Bucket.Put(ctx, key, data)
}

// Many connections producing large requests at once: the agent reads no
// more request bytes than its budget (the rest wait), answers every
// produce, and its heap stays within its memory limit, as `silt agent`
// sets it from the budgets. The cache is 64 MiB here, so the limit is
// small enough to mean something in a test process.
func TestManyLargeProducesStayInBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes 768 MiB through an agent")
	}
	cfg := DefaultConfig()
	cfg.NodeName, cfg.Listen, cfg.HTTPListen, cfg.Gossip = "test", "127.0.0.1:0", "", ""
	cfg.CacheBytes = 64 << 20
	reg := prometheus.NewRegistry()
	cfg.Registry = reg
	cfg.Logger = slog.New(slog.DiscardHandler)
	limit := cfg.MemoryLimit()
	old := debug.SetMemoryLimit(limit)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	a, err := New(cfg, segmentSink{mem.New()})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })

	const clients, requests, partitions = 16, 3, 16
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, _, err := a.proposer.Submit(ctx, []journal.Command{{CreateTopic: &journal.CreateTopic{Name: "big", Partitions: partitions}}}); err != nil {
		t.Fatal(err)
	}
	frame := bigProduce(t, "big", partitions, 1000<<10) // 16 partitions × 1000 KiB

	var peak atomic.Uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() { sampleHeap(stop, &peak) })

	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			nc, err := net.Dial("tcp", a.Addr())
			if err != nil {
				t.Error(err)
				return
			}
			defer nc.Close()
			for range requests {
				if _, err := nc.Write(frame); err != nil {
					t.Error(err)
					return
				}
				if err := produceAnswered(nc, partitions); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	sampler.Wait()
	waits := 0.0
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "silt_queued_request_waits_total" {
			waits = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if waits == 0 {
		t.Errorf("%d clients × %d MiB requests never waited for a %d MiB budget", clients, len(frame)>>20, cfg.QueuedRequestBytes>>20)
	}
	// The test's own frame and the client side's buffers come on top.
	if bound := uint64(limit) + uint64(len(frame)) + 64<<20; peak.Load() > bound {
		t.Errorf("heap peaked at %d MiB, over the memory limit %d MiB (+ the client's frame and 64 MiB)", peak.Load()>>20, limit>>20)
	}
	t.Logf("heap peak %d MiB, memory limit %d MiB, %v budget waits", peak.Load()>>20, limit>>20, waits)
}

// sampleHeap records the peak of the heap's objects (live and not yet
// collected) until stop is closed.
func sampleHeap(stop chan struct{}, peak *atomic.Uint64) {
	s := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		rtmetrics.Read(s)
		if v := s[0].Value.Uint64(); v > peak.Load() {
			peak.Store(v)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// bigProduce returns a Produce v9 request frame with one batch of about
// size bytes for each partition of topic.
func bigProduce(t *testing.T, topic string, partitions int32, size int) []byte {
	t.Helper()
	value := make([]byte, 10<<10)
	recs := make([]recordbatch.Record, size/len(value))
	for i := range recs {
		recs[i] = recordbatch.Record{Value: value, Timestamp: 1}
	}
	batch, err := recordbatch.Encode(recordbatch.Header{FirstTimestamp: 1, MaxTimestamp: 1, ProducerID: -1, BaseSequence: -1}, recs, recordbatch.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 60000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	for p := range partitions {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = p, batch
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	// Request header v2: key 0, version, correlation id, null client id, no tags.
	frame := []byte{0, 0, 0, 0, 0, 0, 0, byte(req.Version), 0, 0, 0, 1, 0xff, 0xff, 0}
	frame = req.AppendTo(frame)
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	return frame
}

// produceAnswered reads one Produce v9 response and checks every
// partition succeeded.
func produceAnswered(nc net.Conn, partitions int) error {
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		return err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(nc, body); err != nil {
		return err
	}
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = 9
	if err := resp.ReadFrom(body[5:]); err != nil { // correlation id, header tags
		return err
	}
	n := 0
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if rp.ErrorCode != 0 {
				return fmt.Errorf("partition %d: error %d", rp.Partition, rp.ErrorCode)
			}
			n++
		}
	}
	if n != partitions {
		return fmt.Errorf("%d partitions answered, want %d", n, partitions)
	}
	return nil
}
