package agent

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handler serves one API. It runs on the connection's reader goroutine in
// request order and must not block for long: work that waits goes in the
// reply's wait function.
type handler func(c *conn, req *request) reply

// api is one entry of the table of served APIs: a key, the versions served,
// and the handler. ApiVersions answers from this table, so a version is
// advertised exactly when it is handled.
type api struct {
	key        kmsg.Key
	minVersion int16
	maxVersion int16
	handle     handler
}

// apis is every API silt serves. The versions are those whose behaviour the
// handlers implement; each handler's file says what differs between them.
// It is filled in init because ApiVersions' handler reads it.
var apis []api

// apiByKey indexes apis by key.
var apiByKey map[int16]*api

func init() {
	apis = []api{
		{kmsg.Produce, 3, 12, handleProduce},
		{kmsg.Fetch, 4, 16, handleFetch},
		{kmsg.ListOffsets, 1, 8, handleListOffsets},
		{kmsg.Metadata, 1, 12, handleMetadata},
		{kmsg.ApiVersions, 0, 4, handleApiVersions},
		{kmsg.SASLHandshake, 0, 1, handleSaslHandshake},
		{kmsg.SASLAuthenticate, 0, 2, handleSaslAuthenticate},
		{kmsg.CreateTopics, 2, 7, handleCreateTopics},
		{kmsg.DeleteTopics, 1, 6, handleDeleteTopics},
		{kmsg.DeleteRecords, 0, 2, handleDeleteRecords},
		{kmsg.InitProducerID, 0, 5, handleInitProducerID},
		{kmsg.OffsetForLeaderEpoch, 2, 4, handleOffsetForLeaderEpoch},
		{kmsg.DescribeACLs, 1, 3, handleDescribeAcls},
		{kmsg.CreateACLs, 1, 3, handleCreateAcls},
		{kmsg.DeleteACLs, 1, 3, handleDeleteAcls},
		{kmsg.DescribeConfigs, 1, 4, handleDescribeConfigs},
		{kmsg.CreatePartitions, 0, 3, handleCreatePartitions},
		{kmsg.IncrementalAlterConfigs, 0, 1, handleIncrementalAlterConfigs},
		{kmsg.DescribeCluster, 0, 1, handleDescribeCluster},
		{kmsg.OffsetCommit, 2, 9, handleOffsetCommit},
		{kmsg.OffsetFetch, 1, 9, handleOffsetFetch},
		{kmsg.FindCoordinator, 0, 5, handleFindCoordinator},
		{kmsg.JoinGroup, 0, 9, handleJoinGroup},
		{kmsg.Heartbeat, 0, 4, handleHeartbeat},
		{kmsg.LeaveGroup, 0, 5, handleLeaveGroup},
		{kmsg.SyncGroup, 0, 5, handleSyncGroup},
		{kmsg.DescribeGroups, 0, 5, handleDescribeGroups},
		{kmsg.ListGroups, 0, 5, handleListGroups},
		{kmsg.DeleteGroups, 0, 2, handleDeleteGroups},
		{kmsg.OffsetDelete, 0, 0, handleOffsetDelete},
		{kmsg.ConsumerGroupHeartbeat, 0, 1, handleConsumerGroupHeartbeat},
		{kmsg.ConsumerGroupDescribe, 0, 1, handleConsumerGroupDescribe},
		{kmsg.AlterConfigs, 0, 2, handleAlterConfigs},
		{kmsg.DescribeLogDirs, 1, 5, handleDescribeLogDirs},
		{kmsg.ElectLeaders, 0, 2, handleElectLeaders},
		{kmsg.AlterPartitionAssignments, 0, 1, handleAlterPartitionReassignments},
		{kmsg.ListPartitionReassignments, 0, 0, handleListPartitionReassignments},
		{kmsg.DescribeUserSCRAMCredentials, 0, 0, handleDescribeUserScramCredentials},
		{kmsg.AlterUserSCRAMCredentials, 0, 0, handleAlterUserScramCredentials},
		{kmsg.DescribeClientQuotas, 0, 1, handleDescribeClientQuotas},
		{kmsg.AlterClientQuotas, 0, 1, handleAlterClientQuotas},
		{kmsg.DescribeProducers, 0, 0, handleDescribeProducers},
		{kmsg.AddPartitionsToTxn, 0, 5, handleAddPartitionsToTxn},
		{kmsg.AddOffsetsToTxn, 0, 4, handleAddOffsetsToTxn},
		{kmsg.EndTxn, 0, 5, handleEndTxn},
		{kmsg.WriteTxnMarkers, 0, 2, handleWriteTxnMarkers},
		{kmsg.TxnOffsetCommit, 0, 5, handleTxnOffsetCommit},
		{kmsg.DescribeTransactions, 0, 0, handleDescribeTransactions},
		{kmsg.ListTransactions, 0, 2, handleListTransactions},
		{kmsg.DescribeTopicPartitions, 0, 0, handleDescribeTopicPartitions},
		{kmsg.ShareGroupHeartbeat, 0, 1, handleShareGroupHeartbeat},
		{kmsg.ShareGroupDescribe, 0, 1, handleShareGroupDescribe},
		{kmsg.ShareFetch, 0, 2, handleShareFetch},
		{kmsg.ShareAcknowledge, 0, 2, handleShareAcknowledge},
		{kmsg.DescribeShareGroupOffsets, 0, 1, handleDescribeShareGroupOffsets},
		{kmsg.AlterShareGroupOffsets, 0, 0, handleAlterShareGroupOffsets},
		{kmsg.DeleteShareGroupOffsets, 0, 0, handleDeleteShareGroupOffsets},
		{kmsg.StreamsGroupHeartbeat, 0, 1, handleStreamsGroupHeartbeat},
		{kmsg.StreamsGroupDescribe, 0, 1, handleStreamsGroupDescribe},
	}
	apiByKey = make(map[int16]*api, len(apis))
	for i := range apis {
		apiByKey[apis[i].key.Int16()] = &apis[i]
	}
}

// supported reports whether the table serves key at version.
func supported(key, version int16) bool {
	a := apiByKey[key]
	return a != nil && version >= a.minVersion && version <= a.maxVersion
}

// dispatch calls the request's handler. parseRequest has already refused
// unsupported requests, except ApiVersions at a newer version, which
// handleApiVersions answers.
func (a *Agent) dispatch(c *conn, req *request) reply {
	return apiByKey[req.key].handle(c, req)
}
