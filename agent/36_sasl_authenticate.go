package agent

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SaslAuthenticate (key 36), versions 0-2.
//
// Behavior: carries the tokens of the mechanism SaslHandshake chose (see
// sasl.go): one round for PLAIN and OAUTHBEARER, two for SCRAM. On
// success the connection's principal is User:<name> and the requests of
// the session are served; v1+ answers the session's lifetime in ms (the
// token's expiry or Security.MaxReauth, whichever is sooner; 0: none),
// before which the client authenticates again on the same connection
// (KIP-368), as the same user. On failure the answer,
// SASL_AUTHENTICATION_FAILED with one message whatever went wrong (an
// unknown user reads as a wrong password), comes after
// Security.FailedAuthDelay, and the connection is closed. Without a
// handshake first: ILLEGAL_SASL_STATE, and the connection is closed.
func handleSaslAuthenticate(c *conn, req *request) reply {
	r := req.body.(*kmsg.SASLAuthenticateRequest)
	resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	if c.auth.mech == "" {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		msg := "SaslAuthenticate without a SaslHandshake choosing a mechanism"
		resp.ErrorMessage = &msg
		c.auth.closeAfterReply = true
		return reply{resp: resp}
	}
	mech := c.auth.mech
	out, user, expires, done, err := c.authenticate(r.SASLAuthBytes)
	if err == nil && done && c.auth.user != "" && user != c.auth.user {
		err = errPrincipalChanged
	}
	if err != nil {
		c.log.Info("SASL authentication failed", "mechanism", mech, "err", err)
		c.a.metrics.authFailures.WithLabelValues(mech).Inc()
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		msg := authFailedMessage(mech)
		resp.ErrorMessage = &msg
		c.auth.closeAfterReply = true
		delay := c.a.security.cfg.FailedAuthDelay
		return reply{wait: func(ctx context.Context) kmsg.Response {
			sleepCtx(ctx, delay)
			return resp
		}}
	}
	resp.SASLAuthBytes = out
	if !done {
		return reply{resp: resp}
	}
	now := time.Now()
	if max := c.a.security.cfg.MaxReauth; max > 0 && (expires.IsZero() || expires.After(now.Add(max))) {
		expires = now.Add(max)
	}
	c.auth = connAuth{required: c.auth.required, done: true, user: user, expires: expires}
	c.principal = "User:" + user
	if !expires.IsZero() {
		resp.SessionLifetimeMillis = max(expires.Sub(now).Milliseconds(), 1)
	}
	return reply{resp: resp}
}
