package agent_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// agentUnderTest is one in-process agent with a client and an admin client
// of it, for the tests of single APIs.
type agentUnderTest struct {
	seeds []string
	cl    *kgo.Client
	adm   *kadm.Client
}

// startAgent starts one agent for the test and returns it with a context
// that ends after timeout (or with the test).
func startAgent(t *testing.T, timeout time.Duration) (context.Context, agentUnderTest) {
	t.Helper()
	c := localstacktest.StartT(t, localstack.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return ctx, agentUnderTest{seeds: c.Seeds(), cl: cl, adm: kadm.NewClient(cl)}
}
