package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ApiVersions (key 18), versions 0-4.
//
// Behavior: lists every API in the table with its version range. A request
// at a version newer than silt serves is answered at v0 with
// UNSUPPORTED_VERSION and the list, so the client can retry at a version
// both sides know (KIP-511). From v3 it advertises one feature,
// transaction.version, supported up to 2 and finalized at 2, so that
// Kafka 4's clients run transactions as KIP-890 part 2 has them: no
// AddPartitionsToTxn or AddOffsetsToTxn, the epoch bumped by every EndTxn
// (journal/apply_txn.go). The finalized epoch is constant: every agent of
// every version that serves it finalizes the same level.
func handleApiVersions(c *conn, req *request) reply {
	resp := kmsg.NewPtrApiVersionsResponse()
	if !supported(req.key, req.version) {
		resp.Version = 0
		resp.ErrorCode = kerr.UnsupportedVersion.Code
	} else {
		resp.Version = req.version
	}
	for _, a := range apis {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey = a.key.Int16()
		k.MinVersion = a.minVersion
		k.MaxVersion = a.maxVersion
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	if resp.Version >= 3 {
		sf := kmsg.NewApiVersionsResponseSupportedFeature()
		sf.Name, sf.MinVersion, sf.MaxVersion = transactionVersionFeature, 0, transactionVersion
		resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
		ff := kmsg.NewApiVersionsResponseFinalizedFeature()
		ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = transactionVersionFeature, transactionVersion, transactionVersion
		resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
		resp.FinalizedFeaturesEpoch = finalizedFeaturesEpoch
	}
	return reply{resp: resp}
}

// The features ApiVersions advertises.
const (
	transactionVersionFeature = "transaction.version"
	transactionVersion        = 2
	finalizedFeaturesEpoch    = 1
)
