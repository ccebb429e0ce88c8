package agent

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore/mem"
)

// BenchmarkFetchFromCache measures the agent's cost of serving consumers
// from its cache: Fetch requests for 4 partitions of committed, cached
// record batches (1 MiB each, Kafka's max.partition.fetch.bytes default),
// sent over a real connection by a client that reads the responses and
// throws them away, reading them straight from the socket. It reports
// cpu-s/GB: CPU seconds (user and system, the whole process, so the
// client's receive too) per GB of responses; a CPU profile
// (-cpuprofile) splits the agent's share (conn.writeLoop) from the
// client's.
//
//	go test -run '^$' -bench FetchFromCache -benchtime 2000x ./agent/
func BenchmarkFetchFromCache(b *testing.B) {
	const topic, partitions, perPartition = "consumed", 4, 8 << 20
	a := startQuietAgent(b, mem.New(), nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.Addr()), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var id [16]byte
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, -1, nil, topic); err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 1000)
	for p := range int32(partitions) {
		for range perPartition / len(value) {
			cl.Produce(ctx, &kgo.Record{Partition: p, Value: value}, func(_ *kgo.Record, err error) {
				if err != nil {
					b.Error(err)
				}
			})
		}
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	a.journal.View(func(s *journal.State) {
		if t := s.Topic(topic); t != nil {
			id = t.ID
		}
	})

	nc, err := net.Dial("tcp", a.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxWaitMillis, req.MaxBytes, req.SessionEpoch = 13, 0, 50<<20, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = id
	for p := range int32(partitions) {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, 0, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	// Request header v2: key, version, correlation id, a null client id,
	// no tags; then the body.
	frame := []byte{0, 0, 0, 0, 0, 1, 0, byte(req.Version), 0, 0, 0, 1, 0xff, 0xff, 0}
	frame = req.AppendTo(frame)
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	// The client reads straight from the socket into one buffer: its own
	// cost is the kernel's copy, which any consumer pays.
	sink := make([]byte, 1<<20)
	fetch := func() int64 {
		if _, err := nc.Write(frame); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(nc, sink[:4]); err != nil {
			b.Fatal(err)
		}
		size := int64(binary.BigEndian.Uint32(sink))
		for left := size; left > 0; {
			n, err := nc.Read(sink[:min(left, int64(len(sink)))])
			if err != nil {
				b.Fatal(err)
			}
			left -= int64(n)
		}
		return size + 4
	}
	// Whole batches of up to 1 MiB: at least a few hundred KiB a partition.
	if n := fetch(); n < partitions<<18 {
		b.Fatalf("a fetch returned %d bytes, want about %d", n, partitions<<20)
	}
	var total int64
	cpu0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		total += fetch()
	}
	b.StopTimer()
	b.SetBytes(total / int64(b.N))
	b.ReportMetric((cpuTime()-cpu0).Seconds()/(float64(total)/1e9), "cpu-s/GB")
}

// cpuTime returns the process's CPU time, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
