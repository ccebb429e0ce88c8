package agent

import (
	"crypto/hmac"
	"crypto/sha256"
)

// The cluster secret (Config.ClusterSecret, --cluster-secret-file) is the
// one thing the agents of a cluster share to keep others out of its
// interior. Three keys are derived from it, so that no use exposes
// another: a 32-byte AES key for memberlist's keyring, an HMAC key for
// the internal RPC (agent/commit/rpcauth.go), and the key that makes up
// SCRAM salts for unknown users (sasl.go), so that every agent answers an
// unknown user with the same salt, as it does a real one.

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

func unknownUserKey(secret []byte) []byte { return deriveKey(secret, "silt unknown scram user v1") }
