package agent

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SaslHandshake (key 17), version 1.
//
// Behavior: on a SASL listener (SASL_PLAINTEXT, SASL_SSL) the client names
// the mechanism it will authenticate with; one the listener offers
// (Security.SASLMechanisms: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512,
// OAUTHBEARER) is chosen and SaslAuthenticate carries its tokens (see
// sasl.go). Any other is refused with UNSUPPORTED_SASL_MECHANISM and the
// list offered. A second handshake before the first is completed, or a
// handshake on a listener without SASL, is ILLEGAL_SASL_STATE. A client
// re-authenticating (KIP-368) sends a new handshake on its authenticated
// connection. Version 0, after which Kafka's oldest clients send raw
// tokens outside of Kafka's framing, is not served: every client since
// Kafka 1.0 uses version 1 and SaslAuthenticate.
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
	c.auth.mech, c.auth.scram = r.Mechanism, nil
	return reply{resp: resp}
}
