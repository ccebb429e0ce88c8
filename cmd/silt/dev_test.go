package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/localstack/localstacktest"
)

// `silt dev --agents 3` starts a cluster of three agents and prints its
// bootstrap address; a client there sees three brokers and its records
// come back. The test runs the built binary, as a user would.
func TestDevStartsACluster(t *testing.T) {
	bin := localstacktest.BuildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "dev", "--agents", "3", "--port", "0", "--dir", t.TempDir(), "--log-level", "warn")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	var bootstrap string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "bootstrap: "); ok {
			bootstrap = rest
			break
		}
	}
	if bootstrap == "" {
		t.Fatalf("silt dev printed no bootstrap address (%v)", sc.Err())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	seeds := strings.Split(bootstrap, ",")
	if len(seeds) != 3 {
		t.Fatalf("bootstrap %q: want three agents", bootstrap)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds[0]), kgo.DefaultProduceTopic("dev"), kgo.AllowAutoTopicCreation(),
		kgo.ConsumeTopics("dev"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var brokers int
	for deadline := time.Now().Add(30 * time.Second); brokers != 3 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
		if err == nil {
			brokers = len(md.Brokers)
		}
	}
	if brokers != 3 {
		t.Fatalf("the cluster lists %d brokers, want 3", brokers)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	fs := cl.PollFetches(ctx)
	if err := fs.Err(); err != nil {
		t.Fatal(err)
	}
	if recs := fs.Records(); len(recs) != 1 || string(recs[0].Value) != "hello" {
		t.Fatalf("read back %d records", len(recs))
	}
}
