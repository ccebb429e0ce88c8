package agent_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// aclAgent is an agent with the authorizer on, whose connections are the
// principal "User:<client id>" (agent.SetTestPrincipal stands in for
// authentication), and an admin client that is a super user.
type aclAgent struct {
	cluster *localstack.Cluster
	seeds   []string
	admin   *kgo.Client
	adm     *kadm.Client
}

// startACLAgent starts the agent on a new directory, or on dir.
func startACLAgent(t *testing.T, configure func(*agent.Config), dir string) aclAgent {
	t.Helper()
	c := localstacktest.StartT(t, localstack.Options{Dir: dir, Configure: func(_ int, cfg *agent.Config) {
		cfg.Authorizer = true
		cfg.SuperUsers = []string{"User:admin"}
		if configure != nil {
			configure(cfg)
		}
	}})
	for _, a := range c.Agents {
		agent.SetTestPrincipal(a, func(clientID string) string { return "User:" + clientID })
	}
	admin := principalClient(t, c.Seeds(), "admin")
	return aclAgent{cluster: c, seeds: c.Seeds(), admin: admin, adm: kadm.NewClient(admin)}
}

// principalClient is a client whose connections are User:<id>.
func principalClient(t *testing.T, seeds []string, id string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ClientID(id)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// binding is one ACL for createACLs.
type binding struct {
	principal string
	perm      kmsg.ACLPermissionType
	op        kmsg.ACLOperation
	rt        kmsg.ACLResourceType
	name      string
	pattern   kmsg.ACLResourcePatternType
}

// createACLCode makes one CreateAcls creation and returns its code.
func createACLCode(t *testing.T, ctx context.Context, cl *kgo.Client, b binding) int16 {
	t.Helper()
	req := kmsg.NewPtrCreateACLsRequest()
	c := kmsg.NewCreateACLsRequestCreation()
	c.ResourceType, c.ResourceName, c.ResourcePatternType = b.rt, b.name, b.pattern
	c.Principal, c.Host, c.Operation, c.PermissionType = b.principal, "*", b.op, b.perm
	req.Creations = append(req.Creations, c)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Results[0].ErrorCode
}

// createACLs creates the bindings with CreateAcls and fails the test on
// any error.
func createACLs(t *testing.T, ctx context.Context, cl *kgo.Client, bs ...binding) {
	t.Helper()
	req := kmsg.NewPtrCreateACLsRequest()
	for _, b := range bs {
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourceName, c.ResourcePatternType = b.rt, b.name, b.pattern
		c.Principal, c.Host, c.Operation, c.PermissionType = b.principal, "*", b.op, b.perm
		req.Creations = append(req.Creations, c)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resp.Results {
		if r.ErrorCode != 0 {
			t.Fatalf("create ACL %+v: %v", bs[i], kerr.ErrorForCode(r.ErrorCode))
		}
	}
}

// request sends req to the agent itself, as it is (no client-side
// routing, which would ask for metadata first).
func request[R kmsg.Response](t *testing.T, ctx context.Context, cl *kgo.Client, req kmsg.Request) R {
	t.Helper()
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp.(R)
}

// matrixCase is one API of the authorization matrix. Each principal of
// the matrix works on its own resource, named by the case's prefix and the
// principal's role, so that PREFIXED ACLs on the prefix can be tested.
type matrixCase struct {
	api string
	op  kmsg.ACLOperation
	rt  kmsg.ACLResourceType
	// needsTopic creates the resource's topic (with a record) beforehand;
	// for a group case, the topic <name>-t that the group's requests name.
	needsTopic bool
	// context are ACLs every principal of the case gets on its resource
	// (other than the one under test), e.g. READ on the topic of a commit.
	context []binding
	// call makes the request as cl on the named resource (topic and
	// group names share it) and returns the code that answers for it.
	call func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, topicID [16]byte) int16
	// want is the code Kafka answers without the ACL.
	want int16
}

var authCodes = map[int16]bool{
	kerr.TopicAuthorizationFailed.Code:           true,
	kerr.GroupAuthorizationFailed.Code:           true,
	kerr.ClusterAuthorizationFailed.Code:         true,
	kerr.TransactionalIDAuthorizationFailed.Code: true,
}

// The authorization matrix: for every API the agent serves, a principal
// with the ACL it needs, one with none, one with a DENY beside the ALLOW
// and one with a PREFIXED ACL get what a Kafka broker answers: the
// authorization error for the second and third, anything else for the
// first and fourth.
func TestAuthorizationMatrix(t *testing.T) {
	aa := startACLAgent(t, nil, "")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const cluster = "kafka-cluster"
	for _, tc := range matrixCases() {
		t.Run(tc.api, func(t *testing.T) {
			prefix := strings.ToLower(tc.api) + "-"
			roles := []string{"allowed", "none", "denied", "prefixed"}
			var acls []binding
			ids := map[string][16]byte{}
			for _, role := range roles {
				principal := "User:" + prefix + role
				name := prefix + role
				topic := name
				if tc.rt == kmsg.ACLResourceTypeGroup {
					topic = name + "-t"
				}
				if tc.needsTopic {
					if _, err := aa.adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
						t.Fatal(err)
					}
					if err := aa.admin.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr(); err != nil {
						t.Fatal(err)
					}
					details, err := aa.adm.ListTopics(ctx, topic)
					if err != nil {
						t.Fatal(err)
					}
					ids[role] = details[topic].ID
				}
				for _, cb := range tc.context {
					cb.principal = principal
					switch cb.rt {
					case kmsg.ACLResourceTypeTopic:
						cb.name = topic
					case kmsg.ACLResourceTypeGroup:
						cb.name = name
					}
					acls = append(acls, cb)
				}
				resource, pattern := name, kmsg.ACLResourcePatternTypeLiteral
				if tc.rt == kmsg.ACLResourceTypeCluster {
					resource = cluster
				}
				if role == "prefixed" {
					resource, pattern = prefix, kmsg.ACLResourcePatternTypePrefixed
				}
				allow := binding{principal, kmsg.ACLPermissionTypeAllow, tc.op, tc.rt, resource, pattern}
				switch {
				case role == "prefixed" && tc.rt == kmsg.ACLResourceTypeCluster:
					// The cluster's only name is kafka-cluster: Kafka
					// refuses a PREFIXED pattern of it, and so the
					// principal stays without the ACL.
					allow.name = "kafka-"
					if code := createACLCode(t, ctx, aa.admin, allow); code != kerr.InvalidRequest.Code {
						t.Errorf("PREFIXED cluster ACL: %v, want INVALID_REQUEST", kerr.ErrorForCode(code))
					}
				case role == "allowed", role == "prefixed":
					acls = append(acls, allow)
				case role == "denied":
					deny := allow
					deny.perm = kmsg.ACLPermissionTypeDeny
					acls = append(acls, allow, deny)
				}
			}
			createACLs(t, ctx, aa.admin, acls...)
			for _, role := range roles {
				cl := principalClient(t, aa.seeds, prefix+role)
				code := tc.call(t, ctx, cl, prefix+role, ids[role])
				granted := role == "allowed" || role == "prefixed" && tc.rt != kmsg.ACLResourceTypeCluster
				switch {
				case granted:
					if authCodes[code] {
						t.Errorf("%s with the ACL (%s): %v", tc.api, role, kerr.ErrorForCode(code))
					}
				default:
					if code != tc.want {
						t.Errorf("%s %s: %v, want %v", tc.api, role, kerr.ErrorForCode(code), kerr.ErrorForCode(tc.want))
					}
				}
			}
		})
	}
}

func matrixCases() []matrixCase {
	topic, group, clusterRT := kmsg.ACLResourceTypeTopic, kmsg.ACLResourceTypeGroup, kmsg.ACLResourceTypeCluster
	topicFailed, groupFailed, clusterFailed := kerr.TopicAuthorizationFailed.Code, kerr.GroupAuthorizationFailed.Code, kerr.ClusterAuthorizationFailed.Code
	readTopic := []binding{{perm: kmsg.ACLPermissionTypeAllow, op: kmsg.ACLOperationRead, rt: topic, pattern: kmsg.ACLResourcePatternTypeLiteral}}
	txnRT, txnFailed := kmsg.ACLResourceTypeTransactionalId, kerr.TransactionalIDAuthorizationFailed.Code
	writeTopic := []binding{{perm: kmsg.ACLPermissionTypeAllow, op: kmsg.ACLOperationWrite, rt: topic, pattern: kmsg.ACLResourcePatternTypeLiteral}}
	readGroup := []binding{{perm: kmsg.ACLPermissionTypeAllow, op: kmsg.ACLOperationRead, rt: group, pattern: kmsg.ACLResourcePatternTypeLiteral}}
	return []matrixCase{
		{"Produce", kmsg.ACLOperationWrite, topic, true, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			p := principalClient(t, cl.OptValue(kgo.SeedBrokers).([]string), cl.OptValue(kgo.ClientID).(string), kgo.DisableIdempotentWrite(), kgo.RecordRetries(2))
			return codeOf(p.ProduceSync(ctx, &kgo.Record{Topic: name, Value: []byte("x")}).FirstErr())
		}, topicFailed},
		{"Fetch", kmsg.ACLOperationRead, topic, true, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, id [16]byte) int16 {
			req := kmsg.NewPtrFetchRequest()
			req.MaxWaitMillis, req.MaxBytes, req.SessionEpoch = 0, 1<<20, -1
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic, rt.TopicID = name, id
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.PartitionMaxBytes = 1 << 20
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return request[*kmsg.FetchResponse](t, ctx, cl, req).Topics[0].Partitions[0].ErrorCode
		}, topicFailed},
		{"ListOffsets", kmsg.ACLOperationDescribe, topic, true, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrListOffsetsRequest()
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = name
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Timestamp = -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return request[*kmsg.ListOffsetsResponse](t, ctx, cl, req).Topics[0].Partitions[0].ErrorCode
		}, topicFailed},
		{"Metadata", kmsg.ACLOperationDescribe, topic, true, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrMetadataRequest()
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = &name
			req.Topics = append(req.Topics, rt)
			return request[*kmsg.MetadataResponse](t, ctx, cl, req).Topics[0].ErrorCode
		}, topicFailed},
		{"OffsetForLeaderEpoch", kmsg.ACLOperationDescribe, topic, true, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrOffsetForLeaderEpochRequest()
			req.ReplicaID = -1
			rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
			rt.Topic = name
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.CurrentLeaderEpoch, rp.LeaderEpoch = -1, 0
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return request[*kmsg.OffsetForLeaderEpochResponse](t, ctx, cl, req).Topics[0].Partitions[0].ErrorCode
		}, topicFailed},
		{"CreateTopics", kmsg.ACLOperationCreate, topic, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrCreateTopicsRequest()
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, -1
			req.Topics = append(req.Topics, rt)
			return request[*kmsg.CreateTopicsResponse](t, ctx, cl, req).Topics[0].ErrorCode
		}, topicFailed},
		{"DeleteTopics", kmsg.ACLOperationDelete, topic, true, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrDeleteTopicsRequest()
			req.TopicNames = []string{name}
			rt := kmsg.NewDeleteTopicsRequestTopic()
			rt.Topic = &name
			req.Topics = append(req.Topics, rt)
			return request[*kmsg.DeleteTopicsResponse](t, ctx, cl, req).Topics[0].ErrorCode
		}, topicFailed},
		{"DeleteRecords", kmsg.ACLOperationDelete, topic, true, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrDeleteRecordsRequest()
			rt := kmsg.NewDeleteRecordsRequestTopic()
			rt.Topic = name
			rp := kmsg.NewDeleteRecordsRequestTopicPartition()
			rp.Offset = 1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return request[*kmsg.DeleteRecordsResponse](t, ctx, cl, req).Topics[0].Partitions[0].ErrorCode
		}, topicFailed},
		{"CreatePartitions", kmsg.ACLOperationAlter, topic, true, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrCreatePartitionsRequest()
			rt := kmsg.NewCreatePartitionsRequestTopic()
			rt.Topic, rt.Count = name, 2
			req.Topics = append(req.Topics, rt)
			return request[*kmsg.CreatePartitionsResponse](t, ctx, cl, req).Topics[0].ErrorCode
		}, topicFailed},
		{"DescribeConfigs", kmsg.ACLOperationDescribeConfigs, topic, true, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrDescribeConfigsRequest()
			rr := kmsg.NewDescribeConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, name
			req.Resources = append(req.Resources, rr)
			return request[*kmsg.DescribeConfigsResponse](t, ctx, cl, req).Resources[0].ErrorCode
		}, topicFailed},
		{"AlterConfigs", kmsg.ACLOperationAlterConfigs, topic, true, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrAlterConfigsRequest()
			rr := kmsg.NewAlterConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, name
			c := kmsg.NewAlterConfigsRequestResourceConfig()
			c.Name, c.Value = "retention.ms", kmsg.StringPtr("86400000")
			rr.Configs = append(rr.Configs, c)
			req.Resources = append(req.Resources, rr)
			return request[*kmsg.AlterConfigsResponse](t, ctx, cl, req).Resources[0].ErrorCode
		}, topicFailed},
		{"IncrementalAlterConfigs", kmsg.ACLOperationAlterConfigs, topic, true, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrIncrementalAlterConfigsRequest()
			rr := kmsg.NewIncrementalAlterConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, name
			c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			c.Name, c.Value = "retention.ms", kmsg.StringPtr("86400000")
			rr.Configs = append(rr.Configs, c)
			req.Resources = append(req.Resources, rr)
			return request[*kmsg.IncrementalAlterConfigsResponse](t, ctx, cl, req).Resources[0].ErrorCode
		}, topicFailed},
		{"DescribeProducers", kmsg.ACLOperationRead, topic, true, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrDescribeProducersRequest()
			rt := kmsg.NewDescribeProducersRequestTopic()
			rt.Topic, rt.Partitions = name, []int32{0}
			req.Topics = append(req.Topics, rt)
			return request[*kmsg.DescribeProducersResponse](t, ctx, cl, req).Topics[0].Partitions[0].ErrorCode
		}, topicFailed},
		{"DescribeTopicPartitions", kmsg.ACLOperationDescribe, topic, true, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrDescribeTopicPartitionsRequest()
			rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
			rt.Topic = name
			req.Topics = append(req.Topics, rt)
			return request[*kmsg.DescribeTopicPartitionsResponse](t, ctx, cl, req).Topics[0].ErrorCode
		}, topicFailed},
		{"OffsetCommit", kmsg.ACLOperationRead, group, true, readTopic, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrOffsetCommitRequest()
			req.Group, req.Generation = name, -1
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic = name + "-t"
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Offset = 1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return request[*kmsg.OffsetCommitResponse](t, ctx, cl, req).Topics[0].Partitions[0].ErrorCode
		}, groupFailed},
		{"OffsetFetch", kmsg.ACLOperationDescribe, group, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrOffsetFetchRequest()
			rg := kmsg.NewOffsetFetchRequestGroup()
			rg.Group = name
			req.Groups = append(req.Groups, rg)
			return request[*kmsg.OffsetFetchResponse](t, ctx, cl, req).Groups[0].ErrorCode
		}, groupFailed},
		{"FindCoordinator", kmsg.ACLOperationDescribe, group, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrFindCoordinatorRequest()
			req.CoordinatorKeys = []string{name}
			return request[*kmsg.FindCoordinatorResponse](t, ctx, cl, req).Coordinators[0].ErrorCode
		}, groupFailed},
		{"JoinGroup", kmsg.ACLOperationRead, group, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrJoinGroupRequest()
			req.Group, req.ProtocolType = name, "consumer"
			req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 10000, 10000
			p := kmsg.NewJoinGroupRequestProtocol()
			p.Name, p.Metadata = "range", []byte{}
			req.Protocols = append(req.Protocols, p)
			return request[*kmsg.JoinGroupResponse](t, ctx, cl, req).ErrorCode
		}, groupFailed},
		{"Heartbeat", kmsg.ACLOperationRead, group, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrHeartbeatRequest()
			req.Group, req.Generation, req.MemberID = name, 1, "m"
			return request[*kmsg.HeartbeatResponse](t, ctx, cl, req).ErrorCode
		}, groupFailed},
		{"SyncGroup", kmsg.ACLOperationRead, group, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrSyncGroupRequest()
			req.Group, req.Generation, req.MemberID = name, 1, "m"
			return request[*kmsg.SyncGroupResponse](t, ctx, cl, req).ErrorCode
		}, groupFailed},
		{"LeaveGroup", kmsg.ACLOperationRead, group, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrLeaveGroupRequest()
			req.Group = name
			m := kmsg.NewLeaveGroupRequestMember()
			m.MemberID = "m"
			req.Members = append(req.Members, m)
			return request[*kmsg.LeaveGroupResponse](t, ctx, cl, req).ErrorCode
		}, groupFailed},
		{"DescribeGroups", kmsg.ACLOperationDescribe, group, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrDescribeGroupsRequest()
			req.Groups = []string{name}
			return request[*kmsg.DescribeGroupsResponse](t, ctx, cl, req).Groups[0].ErrorCode
		}, groupFailed},
		{"DeleteGroups", kmsg.ACLOperationDelete, group, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrDeleteGroupsRequest()
			req.Groups = []string{name}
			return request[*kmsg.DeleteGroupsResponse](t, ctx, cl, req).Groups[0].ErrorCode
		}, groupFailed},
		{"OffsetDelete", kmsg.ACLOperationDelete, group, true, readTopic, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrOffsetDeleteRequest()
			req.Group = name
			rt := kmsg.NewOffsetDeleteRequestTopic()
			rt.Topic = name + "-t"
			rt.Partitions = append(rt.Partitions, kmsg.NewOffsetDeleteRequestTopicPartition())
			req.Topics = append(req.Topics, rt)
			return request[*kmsg.OffsetDeleteResponse](t, ctx, cl, req).ErrorCode
		}, groupFailed},
		{"ConsumerGroupHeartbeat", kmsg.ACLOperationRead, group, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
			req.Group, req.MemberID, req.RebalanceTimeoutMillis = name, "m-"+name, 10000
			req.SubscribedTopicNames, req.Topics = []string{}, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
			return request[*kmsg.ConsumerGroupHeartbeatResponse](t, ctx, cl, req).ErrorCode
		}, groupFailed},
		{"ConsumerGroupDescribe", kmsg.ACLOperationDescribe, group, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrConsumerGroupDescribeRequest()
			req.Groups = []string{name}
			return request[*kmsg.ConsumerGroupDescribeResponse](t, ctx, cl, req).Groups[0].ErrorCode
		}, groupFailed},
		{"ShareGroupHeartbeat", kmsg.ACLOperationRead, group, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrShareGroupHeartbeatRequest()
			req.GroupID, req.MemberID, req.SubscribedTopicNames = name, "m-"+name, []string{}
			return request[*kmsg.ShareGroupHeartbeatResponse](t, ctx, cl, req).ErrorCode
		}, groupFailed},
		{"ShareGroupDescribe", kmsg.ACLOperationDescribe, group, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrShareGroupDescribeRequest()
			req.GroupIDs = []string{name}
			return request[*kmsg.ShareGroupDescribeResponse](t, ctx, cl, req).Groups[0].ErrorCode
		}, groupFailed},
		{"StreamsGroupHeartbeat", kmsg.ACLOperationRead, group, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrStreamsGroupHeartbeatRequest()
			req.Group, req.MemberID, req.RebalanceTimeoutMillis = name, "m-"+name, 10000
			return request[*kmsg.StreamsGroupHeartbeatResponse](t, ctx, cl, req).ErrorCode
		}, groupFailed},
		{"StreamsGroupDescribe", kmsg.ACLOperationDescribe, group, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrStreamsGroupDescribeRequest()
			req.Groups = []string{name}
			return request[*kmsg.StreamsGroupDescribeResponse](t, ctx, cl, req).Groups[0].ErrorCode
		}, groupFailed},
		{"ShareFetch", kmsg.ACLOperationRead, group, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrShareFetchRequest()
			req.GroupID, req.MemberID = &name, kmsg.StringPtr("m-"+name)
			return request[*kmsg.ShareFetchResponse](t, ctx, cl, req).ErrorCode
		}, groupFailed},
		{"ShareAcknowledge", kmsg.ACLOperationRead, group, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrShareAcknowledgeRequest()
			req.GroupID, req.MemberID = &name, kmsg.StringPtr("m-"+name)
			return request[*kmsg.ShareAcknowledgeResponse](t, ctx, cl, req).ErrorCode
		}, groupFailed},
		{"DescribeShareGroupOffsets", kmsg.ACLOperationDescribe, group, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
			rg := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
			rg.GroupID = name
			req.Groups = append(req.Groups, rg)
			return request[*kmsg.DescribeShareGroupOffsetsResponse](t, ctx, cl, req).Groups[0].ErrorCode
		}, groupFailed},
		{"AlterShareGroupOffsets", kmsg.ACLOperationRead, group, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrAlterShareGroupOffsetsRequest()
			req.GroupID = name
			return request[*kmsg.AlterShareGroupOffsetsResponse](t, ctx, cl, req).ErrorCode
		}, groupFailed},
		{"DeleteShareGroupOffsets", kmsg.ACLOperationDelete, group, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrDeleteShareGroupOffsetsRequest()
			req.GroupID = name
			return request[*kmsg.DeleteShareGroupOffsetsResponse](t, ctx, cl, req).ErrorCode
		}, groupFailed},
		{"InitProducerId", kmsg.ACLOperationIdempotentWrite, clusterRT, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, _ string, _ [16]byte) int16 {
			req := kmsg.NewPtrInitProducerIDRequest()
			req.TransactionTimeoutMillis = 60000
			return request[*kmsg.InitProducerIDResponse](t, ctx, cl, req).ErrorCode
		}, clusterFailed},
		{"InitProducerIdTransactional", kmsg.ACLOperationWrite, txnRT, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrInitProducerIDRequest()
			req.TransactionalID, req.TransactionTimeoutMillis = &name, 60000
			return request[*kmsg.InitProducerIDResponse](t, ctx, cl, req).ErrorCode
		}, txnFailed},
		{"AddPartitionsToTxn", kmsg.ACLOperationWrite, txnRT, true, writeTopic, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			// A client's form, v0-3 (v4+ is the brokers'): Kafka 3.5's
			// versions at most.
			cl = principalClient(t, cl.OptValue(kgo.SeedBrokers).([]string), cl.OptValue(kgo.ClientID).(string), kgo.MaxVersions(kversion.V3_5_0()))
			req := kmsg.NewPtrAddPartitionsToTxnRequest()
			req.TransactionalID, req.ProducerID = name, 1
			rt := kmsg.NewAddPartitionsToTxnRequestTopic()
			rt.Topic, rt.Partitions = name, []int32{0}
			req.Topics = append(req.Topics, rt)
			return request[*kmsg.AddPartitionsToTxnResponse](t, ctx, cl, req).Topics[0].Partitions[0].ErrorCode
		}, txnFailed},
		{"AddOffsetsToTxn", kmsg.ACLOperationWrite, txnRT, false, readGroup, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrAddOffsetsToTxnRequest()
			req.TransactionalID, req.ProducerID, req.Group = name, 1, name
			return request[*kmsg.AddOffsetsToTxnResponse](t, ctx, cl, req).ErrorCode
		}, txnFailed},
		{"TxnOffsetCommit", kmsg.ACLOperationWrite, txnRT, true, append(append([]binding{}, readGroup...), readTopic...), func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrTxnOffsetCommitRequest()
			req.TransactionalID, req.ProducerID, req.Group = name, 1, name
			rt := kmsg.NewTxnOffsetCommitRequestTopic()
			rt.Topic = name
			rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			rp.Offset = 1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return request[*kmsg.TxnOffsetCommitResponse](t, ctx, cl, req).Topics[0].Partitions[0].ErrorCode
		}, txnFailed},
		{"EndTxn", kmsg.ACLOperationWrite, txnRT, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrEndTxnRequest()
			req.TransactionalID, req.ProducerID, req.Commit = name, 1, true
			return request[*kmsg.EndTxnResponse](t, ctx, cl, req).ErrorCode
		}, txnFailed},
		{"WriteTxnMarkers", kmsg.ACLOperationClusterAction, clusterRT, true, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrWriteTxnMarkersRequest()
			m := kmsg.NewWriteTxnMarkersRequestMarker()
			m.ProducerID, m.ProducerEpoch = 1, 0
			mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			mt.Topic, mt.Partitions = name, []int32{0}
			m.Topics = append(m.Topics, mt)
			req.Markers = append(req.Markers, m)
			return request[*kmsg.WriteTxnMarkersResponse](t, ctx, cl, req).Markers[0].Topics[0].Partitions[0].ErrorCode
		}, kerr.ClusterAuthorizationFailed.Code},
		{"DescribeTransactions", kmsg.ACLOperationDescribe, txnRT, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrDescribeTransactionsRequest()
			req.TransactionalIDs = []string{name}
			return request[*kmsg.DescribeTransactionsResponse](t, ctx, cl, req).TransactionStates[0].ErrorCode
		}, txnFailed},
		{"DescribeUserScramCredentials", kmsg.ACLOperationDescribe, clusterRT, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, _ string, _ [16]byte) int16 {
			return request[*kmsg.DescribeUserSCRAMCredentialsResponse](t, ctx, cl, kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()).ErrorCode
		}, clusterFailed},
		{"AlterUserScramCredentials", kmsg.ACLOperationAlter, clusterRT, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
			d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
			d.Name, d.Mechanism = name, 2 // SCRAM-SHA-512: RESOURCE_NOT_FOUND when allowed
			req.Deletions = append(req.Deletions, d)
			return request[*kmsg.AlterUserSCRAMCredentialsResponse](t, ctx, cl, req).Results[0].ErrorCode
		}, clusterFailed},
		{"DescribeCluster", kmsg.ACLOperationDescribe, clusterRT, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, _ string, _ [16]byte) int16 {
			return request[*kmsg.DescribeClusterResponse](t, ctx, cl, kmsg.NewPtrDescribeClusterRequest()).ErrorCode
		}, clusterFailed},
		{"DescribeLogDirs", kmsg.ACLOperationDescribe, clusterRT, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, _ string, _ [16]byte) int16 {
			return request[*kmsg.DescribeLogDirsResponse](t, ctx, cl, kmsg.NewPtrDescribeLogDirsRequest()).ErrorCode
		}, clusterFailed},
		{"ElectLeaders", kmsg.ACLOperationAlter, clusterRT, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, _ string, _ [16]byte) int16 {
			req := kmsg.NewPtrElectLeadersRequest()
			req.TimeoutMillis = 1000
			return request[*kmsg.ElectLeadersResponse](t, ctx, cl, req).ErrorCode
		}, clusterFailed},
		{"AlterPartitionReassignments", kmsg.ACLOperationAlter, clusterRT, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, _ string, _ [16]byte) int16 {
			return request[*kmsg.AlterPartitionAssignmentsResponse](t, ctx, cl, kmsg.NewPtrAlterPartitionAssignmentsRequest()).ErrorCode
		}, clusterFailed},
		{"ListPartitionReassignments", kmsg.ACLOperationDescribe, clusterRT, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, _ string, _ [16]byte) int16 {
			return request[*kmsg.ListPartitionReassignmentsResponse](t, ctx, cl, kmsg.NewPtrListPartitionReassignmentsRequest()).ErrorCode
		}, clusterFailed},
		{"DescribeClientQuotas", kmsg.ACLOperationDescribeConfigs, clusterRT, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, _ string, _ [16]byte) int16 {
			return request[*kmsg.DescribeClientQuotasResponse](t, ctx, cl, kmsg.NewPtrDescribeClientQuotasRequest()).ErrorCode
		}, clusterFailed},
		{"AlterClientQuotas", kmsg.ACLOperationAlterConfigs, clusterRT, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrAlterClientQuotasRequest()
			e := kmsg.NewAlterClientQuotasRequestEntry()
			ep := kmsg.NewAlterClientQuotasRequestEntryEntity()
			ep.Type, ep.Name = "user", &name
			e.Entity = append(e.Entity, ep)
			op := kmsg.NewAlterClientQuotasRequestEntryOp()
			op.Key, op.Value = "producer_byte_rate", 1e6
			e.Ops = append(e.Ops, op)
			req.Entries = append(req.Entries, e)
			return request[*kmsg.AlterClientQuotasResponse](t, ctx, cl, req).Entries[0].ErrorCode
		}, clusterFailed},
		{"DescribeAcls", kmsg.ACLOperationDescribe, clusterRT, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, _ string, _ [16]byte) int16 {
			req := kmsg.NewPtrDescribeACLsRequest()
			req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
			req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			return request[*kmsg.DescribeACLsResponse](t, ctx, cl, req).ErrorCode
		}, clusterFailed},
		{"CreateAcls", kmsg.ACLOperationAlter, clusterRT, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, name string, _ [16]byte) int16 {
			req := kmsg.NewPtrCreateACLsRequest()
			c := kmsg.NewCreateACLsRequestCreation()
			c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, "nothing-"+name, kmsg.ACLResourcePatternTypeLiteral
			c.Principal, c.Host, c.Operation, c.PermissionType = "User:nobody", "*", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
			req.Creations = append(req.Creations, c)
			return request[*kmsg.CreateACLsResponse](t, ctx, cl, req).Results[0].ErrorCode
		}, clusterFailed},
		{"DeleteAcls", kmsg.ACLOperationAlter, clusterRT, false, nil, func(t *testing.T, ctx context.Context, cl *kgo.Client, _ string, _ [16]byte) int16 {
			req := kmsg.NewPtrDeleteACLsRequest()
			f := kmsg.NewDeleteACLsRequestFilter()
			f.ResourceType, f.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
			f.Principal = kmsg.StringPtr("User:nobody")
			f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			req.Filters = append(req.Filters, f)
			return request[*kmsg.DeleteACLsResponse](t, ctx, cl, req).Results[0].ErrorCode
		}, clusterFailed},
	}
}

// codeOf is the Kafka code of a client's error (0 for none, -1 for one
// that is not a Kafka error).
func codeOf(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return -1
}
