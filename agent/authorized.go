package agent

// Authorized operations (KIP-430): Metadata, DescribeCluster, DescribeGroups
// and DescribeTopicPartitions report, when asked, the operations the client
// may perform on each resource, as a bit field indexed by Kafka's ACL
// operation codes. silt has no authorizer yet, and a Kafka broker without
// one reports every operation its resource type supports; so does silt.
// When the client does not ask, the field keeps its "not requested" value
// (math.MinInt32), which kmsg's constructors set.

// Kafka's ACL operation codes (org.apache.kafka.common.acl.AclOperation).
const (
	opRead            = 3
	opWrite           = 4
	opCreate          = 5
	opDelete          = 6
	opAlter           = 7
	opDescribe        = 8
	opClusterAction   = 9
	opDescribeConfigs = 10
	opAlterConfigs    = 11
	opIdempotentWrite = 12
)

// opBits turns operation codes into the response's bit field.
func opBits(ops ...int) int32 {
	var b int32
	for _, op := range ops {
		b |= 1 << op
	}
	return b
}

// The operations each resource type supports, as Kafka's AclEntry lists
// them: what a broker without an authorizer reports.
// (A group's are agent/groups' allOperations.)
var (
	topicOps   = opBits(opRead, opWrite, opCreate, opDelete, opAlter, opDescribe, opDescribeConfigs, opAlterConfigs)
	clusterOps = opBits(opCreate, opClusterAction, opDescribeConfigs, opAlterConfigs, opIdempotentWrite, opAlter, opDescribe)
	// groupOps are a group's, as agent/groups reports them (READ, DESCRIBE,
	// DELETE), for the describe handlers outside that package.
	groupOps = opBits(opRead, opDescribe, opDelete)
)
