package agent

import (
	"crypto/hmac"
	"crypto/sha256"
)

// The cluster secret (Config.ClusterSecret, --cluster-secret-file) is the
// one thing the agents of a cluster share to keep others out of its
// interior. Two keys are derived from it, so that neither use exposes the
// other: a 32-byte AES key for memberlist's keyring, and an HMAC key for
// the internal RPC (agent/commit/rpcauth.go).

// deriveKey is HMAC-SHA256(secret, purpose).
func deriveKey(secret []byte, purpose string) []byte {
	if len(secret) == 0 {
		return nil
	}
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(purpose))
	return h.Sum(nil)
}

func gossipKey(secret []byte) []byte { return deriveKey(secret, "silt gossip key v1") }

func rpcKey(secret []byte) []byte { return deriveKey(secret, "silt internal rpc key v1") }
