package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// `silt agent --node-id N` is Kafka's broker.id=N: clients see the agents
// under the ids given, and an agent whose id is taken does not start.
func TestExplicitNodeIDs(t *testing.T) {
	// Agent 0 is node 0, the process node 1; agent 2 asks for 1 again.
	ids := map[int]int32{0: 0, 2: 1}
	c := localstacktest.StartT(t, localstack.Options{Configure: func(i int, cfg *agent.Config) { cfg.NodeID = ids[i] }})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p := localstacktest.StartProcess(t, localstacktest.ProcessOptions{
		Bucket: c.BucketURL, Join: c.GossipSeeds(), Args: []string{"--node-id", "1"},
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()[0], p.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	waitFor(t, 15*time.Second, func() bool {
		md, err := adm.BrokerMetadata(ctx)
		if err != nil {
			return false
		}
		var ids []int32
		for _, b := range md.Brokers {
			ids = append(ids, b.NodeID)
		}
		slices.Sort(ids)
		return slices.Equal(ids, []int32{0, 1})
	})

	// A third agent given id 1 is refused at join and does not start.
	_, err = c.AddAgent(ctx, 2)
	if err == nil || !strings.Contains(err.Error(), "node id") {
		t.Fatalf("an agent with a taken node id started (err %v), want it refused", err)
	}
}
