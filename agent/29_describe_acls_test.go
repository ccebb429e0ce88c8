package agent_test

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// With no authorizer, the ACL APIs answer SECURITY_DISABLED as a Kafka
// broker without one does, at every version served, and the agent goes on
// serving. (Found by MirrorMaker 2 replicating from silt: its topic ACL sync
// treats SECURITY_DISABLED as "no ACLs" but failed on the
// UnsupportedVersionException silt gave before.)
func TestACLAPIsAnswerSecurityDisabled(t *testing.T) {
	ctx, a := startAgent(t, 30*time.Second)
	for _, v := range []int16{1, 2, 3} {
		// A client that may send the ACL APIs at v and no higher.
		vs := kversion.Stable()
		for _, k := range []kmsg.Key{kmsg.DescribeACLs, kmsg.CreateACLs, kmsg.DeleteACLs} {
			vs.SetMaxKeyVersion(k.Int16(), v)
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(a.seeds...), kgo.MaxVersions(vs))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		describe := kmsg.NewPtrDescribeACLsRequest()
		describe.ResourceType = kmsg.ACLResourceTypeAny
		describe.ResourcePatternType = kmsg.ACLResourcePatternTypeAny
		describe.Operation = kmsg.ACLOperationAny
		describe.PermissionType = kmsg.ACLPermissionTypeAny

		create := kmsg.NewPtrCreateACLsRequest()
		for _, topic := range []string{"a", "b"} {
			c := kmsg.NewCreateACLsRequestCreation()
			c.ResourceType, c.ResourceName = kmsg.ACLResourceTypeTopic, topic
			c.ResourcePatternType = kmsg.ACLResourcePatternTypeLiteral
			c.Principal, c.Host = "User:alice", "*"
			c.Operation, c.PermissionType = kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
			create.Creations = append(create.Creations, c)
		}

		del := kmsg.NewPtrDeleteACLsRequest()
		f := kmsg.NewDeleteACLsRequestFilter()
		f.ResourceType, f.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
		f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		del.Filters = append(del.Filters, f)

		for _, tc := range []struct {
			name  string
			req   kmsg.Request
			codes func(kmsg.Response) []int16
			want  int
		}{
			{"DescribeAcls", describe, func(r kmsg.Response) []int16 {
				return []int16{r.(*kmsg.DescribeACLsResponse).ErrorCode}
			}, 1},
			{"CreateAcls", create, func(r kmsg.Response) []int16 {
				var out []int16
				for _, res := range r.(*kmsg.CreateACLsResponse).Results {
					out = append(out, res.ErrorCode)
				}
				return out
			}, 2},
			{"DeleteAcls", del, func(r kmsg.Response) []int16 {
				var out []int16
				for _, res := range r.(*kmsg.DeleteACLsResponse).Results {
					if len(res.MatchingACLs) != 0 {
						t.Errorf("DeleteAcls v%d: %d matching ACLs, want none", v, len(res.MatchingACLs))
					}
					out = append(out, res.ErrorCode)
				}
				return out
			}, 1},
		} {
			resp, err := cl.Request(ctx, tc.req)
			if err != nil {
				t.Fatalf("%s v%d: %v", tc.name, v, err)
			}
			if resp.GetVersion() != v {
				t.Errorf("%s: answered at v%d, want v%d", tc.name, resp.GetVersion(), v)
			}
			codes := tc.codes(resp)
			if len(codes) != tc.want {
				t.Errorf("%s v%d: %d results, want %d", tc.name, v, len(codes), tc.want)
			}
			for _, code := range codes {
				if code != kerr.SecurityDisabled.Code {
					t.Errorf("%s v%d: error %v, want SECURITY_DISABLED", tc.name, v, kerr.ErrorForCode(code))
				}
			}
		}
	}

	// kadm, as a user's tool would call it, sees the same error.
	b := kadm.NewACLs().AnyResource().Allow().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny)
	described, err := a.adm.DescribeACLs(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range described {
		if !errors.Is(d.Err, kerr.SecurityDisabled) {
			t.Errorf("kadm DescribeACLs: %v, want SECURITY_DISABLED", d.Err)
		}
	}
	if _, err := a.adm.ListTopics(ctx); err != nil {
		t.Fatalf("the agent stopped serving after the ACL requests: %v", err)
	}
}
