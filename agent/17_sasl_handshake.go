package agent

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SaslHandshake (key 17), versions 0-1.
//
// Behavior: on a SASL listener (SASL_PLAINTEXT, SASL_SSL) the client names
// the mechanism it will authenticate with; one the listener offers
// (Security.SASLMechanisms: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512,
// OAUTHBEARER) is chosen and SaslAuthenticate carries its tokens (see
// sasl.go). Any other is refused with UNSUPPORTED_SASL_MECHANISM and the
// list offered. A second handshake before the first is completed, or a
// handshake on a listener without SASL, is ILLEGAL_SASL_STATE. A client
// re-authenticating (KIP-368) sends a new handshake on its authenticated
// connection. After version 0 (Kafka's clients before 1.0; librdkafka
// requires it advertised) the client sends the mechanism's tokens bare,
// each with only a size in front, and is answered the same way
// (conn.readRawToken); version 1 clients use SaslAuthenticate.
func handleSaslHandshake(c *conn, req *request) reply {
	r := req.body.(*kmsg.SASLHandshakeRequest)
	resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
	if c.listener == nil || !c.listener.sasl || c.auth.mech != "" {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		c.auth.closeAfterReply = true
		return reply{resp: resp}
	}
	resp.SupportedMechanisms = c.a.security.mechs
	if !slices.Contains(c.a.security.mechs, r.Mechanism) {
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		return reply{resp: resp}
	}
	c.auth.mech, c.auth.scram, c.auth.raw = r.Mechanism, nil, r.Version == 0
	return reply{resp: resp}
}
