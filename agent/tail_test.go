package agent

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/objstore/file"
)

// getLog is a bucket that remembers the keys of the GETs that found
// something.
type getLog struct {
	objstore.Bucket
	mu   sync.Mutex
	keys []string
}

func (g *getLog) note(key string, err error) {
	if err == nil {
		g.mu.Lock()
		g.keys = append(g.keys, key)
		g.mu.Unlock()
	}
}

func (g *getLog) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := g.Bucket.Get(ctx, key)
	g.note(key, err)
	return rc, err
}

func (g *getLog) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	rc, err := g.Bucket.GetRange(ctx, key, off, length)
	g.note(fmt.Sprintf("%s@%d+%d", key, off, length), err)
	return rc, err
}

func (g *getLog) Unwrap() objstore.Bucket { return g.Bucket }

func (g *getLog) got() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.keys...)
}

// A consumer tailing producers costs no GET: every chunk it reads was
// cached by the writer that committed it, at the agent's defaults.
func TestTailingConsumerCostsNoGet(t *testing.T) {
	fb, err := file.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bucket := &getLog{Bucket: fb}
	a := startQuietAgent(t, bucket, nil)
	const topic, partitions, records = "tailed", 4, 2000
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prod, err := kgo.NewClient(kgo.SeedBrokers(a.Addr()), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if _, err := kadm.NewClient(prod).CreateTopic(ctx, partitions, -1, nil, topic); err != nil {
		t.Fatal(err)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(a.Addr()), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	before := len(bucket.got())
	go func() {
		for i := range records {
			prod.Produce(ctx, &kgo.Record{Value: fmt.Appendf(nil, "r%d", i)}, nil)
			if i%50 == 0 {
				time.Sleep(10 * time.Millisecond) // a producer over time, not one burst
			}
		}
	}()
	read := 0
	for read < records {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records: %v", read, records, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Errorf("fetch: %v", err) })
		read += fs.NumRecords()
	}
	if gets := bucket.got()[before:]; len(gets) != 0 {
		t.Errorf("tailing %d records cost %d GETs: %v", records, len(gets), gets)
	}
}
