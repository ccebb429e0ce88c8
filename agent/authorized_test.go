package agent_test

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// Without an authorizer Kafka reports every operation a resource type
// supports when a client asks for authorized operations (KIP-430), and the
// "not requested" value when it does not.
func TestAuthorizedOperations(t *testing.T) {
	ctx, a := startAgent(t, 30*time.Second)
	if _, err := a.adm.CreateTopic(ctx, 1, 1, nil, "authz"); err != nil {
		t.Fatal(err)
	}
	const notRequested = -2147483648
	topicOps := []kadm.ACLOperation{kadm.OpRead, kadm.OpWrite, kadm.OpCreate, kadm.OpDelete, kadm.OpAlter, kadm.OpDescribe, kadm.OpDescribeConfigs, kadm.OpAlterConfigs}
	clusterOps := []kadm.ACLOperation{kadm.OpCreate, kadm.OpClusterAction, kadm.OpDescribeConfigs, kadm.OpAlterConfigs, kadm.OpIdempotentWrite, kadm.OpAlter, kadm.OpDescribe}
	groupOps := []kadm.ACLOperation{kadm.OpRead, kadm.OpDescribe, kadm.OpDelete}
	same := func(what string, got int32, want []kadm.ACLOperation) {
		t.Helper()
		ops := kadm.DecodeACLOperations(got)
		slices.Sort(ops)
		want = slices.Clone(want)
		slices.Sort(want)
		if !slices.Equal(ops, want) {
			t.Errorf("%s: authorized operations %v (%d), want %v", what, ops, got, want)
		}
	}

	for _, v := range []int16{10, 12} {
		// kgo sends the highest version both sides have, up to its limit.
		versions := kversion.Stable()
		versions.SetMaxKeyVersion(kmsg.Metadata.Int16(), v)
		cl, err := kgo.NewClient(kgo.SeedBrokers(a.seeds...), kgo.MaxVersions(versions))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr("authz")
		req.Topics = append(req.Topics, rt)
		req.IncludeTopicAuthorizedOperations, req.IncludeClusterAuthorizedOperations = true, true
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Version != v {
			t.Fatalf("metadata sent at v%d, want v%d", resp.Version, v)
		}
		same("metadata topic", resp.Topics[0].AuthorizedOperations, topicOps)
		if v == 10 {
			same("metadata cluster", resp.AuthorizedOperations, clusterOps)
		}
		req.IncludeTopicAuthorizedOperations, req.IncludeClusterAuthorizedOperations = false, false
		if resp, err = req.RequestWith(ctx, cl); err != nil {
			t.Fatal(err)
		}
		if resp.Topics[0].AuthorizedOperations != notRequested || (v == 10 && resp.AuthorizedOperations != notRequested) {
			t.Errorf("v%d not asked: topic %d cluster %d", v, resp.Topics[0].AuthorizedOperations, resp.AuthorizedOperations)
		}
	}

	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.IncludeClusterAuthorizedOperations = true
	dcr, err := dc.RequestWith(ctx, a.cl)
	if err != nil {
		t.Fatal(err)
	}
	same("describe cluster", dcr.ClusterAuthorizedOperations, clusterOps)

	// A group that holds offsets and no members is Empty.
	if _, err := a.adm.CommitOffsets(ctx, "authz-group", kadm.OffsetsFromRecords(kgo.Record{Topic: "authz", Partition: 0, Offset: 0})); err != nil {
		t.Fatal(err)
	}
	groups, err := a.adm.DescribeGroups(ctx, "authz-group")
	if err != nil {
		t.Fatal(err)
	}
	g := groups["authz-group"]
	ops := g.AuthorizedOperations
	slices.Sort(ops)
	want := slices.Clone(groupOps)
	slices.Sort(want)
	if g.Err != nil || !slices.Equal(ops, want) {
		t.Errorf("describe groups: %v, authorized operations %v, want %v", g.Err, ops, want)
	}
}
