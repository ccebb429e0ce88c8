package agent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/scram"
	"github.com/silt-io/silt/journal"
)

// SASL authentication on a connection, as Kafka's broker does it.
//
// On a SASL listener a connection starts unauthenticated: it may send
// ApiVersions, SaslHandshake and SaslAuthenticate (17_sasl_handshake.go,
// 36_sasl_authenticate.go), in frames of at most 512 KiB (Kafka's
// sasl.server.max.receive.size); any other request closes it. A failed
// authentication is answered SASL_AUTHENTICATION_FAILED after
// Security.FailedAuthDelay and the connection closed; the answer is the
// same whether the user exists or not. A session may end (a token's
// expiry, Security.MaxReauth): SaslAuthenticate v1+ tells the client when,
// and a client that has not authenticated again by then (KIP-368) is
// closed at its next request.
//
// All of this state belongs to the connection's reader goroutine, which
// runs the handlers in order.

// maxUnauthenticatedFrame bounds a frame before authentication (Kafka's
// sasl.server.max.receive.size).
const maxUnauthenticatedFrame = 512 << 10

// errAuthFailed closes a connection after a failed authentication's
// answer.
var errAuthFailed = errors.New("authentication failed")

// errPrincipalChanged refuses a re-authentication as another user, as
// Kafka does.
var errPrincipalChanged = errors.New("re-authentication as a different user")

// connAuth is a connection's authentication state.
type connAuth struct {
	required bool // the listener authenticates with SASL
	done     bool // authenticated, or nothing to authenticate
	// user is who the connection authenticated as, "" before; a
	// re-authentication must be the same user.
	user string
	// mech is the mechanism SaslHandshake chose, "" when none is pending.
	mech  string
	scram *scram.Server
	// expires is when the session ends (zero: never).
	expires time.Time
	// closeAfterReply closes the connection once the request being
	// handled is answered: a failed authentication.
	closeAfterReply bool
	// raw is set after SaslHandshake v0: the client's next frames are
	// bare SASL tokens, answered as bare tokens, until the exchange ends.
	raw bool
}

func newConnAuth(l *listener) connAuth {
	required := l != nil && l.sasl
	return connAuth{required: required, done: !required}
}

// maxFrame is the largest frame the connection may send next.
func (c *conn) maxFrame() int32 {
	if c.auth.done {
		return MaxFrameSize
	}
	return maxUnauthenticatedFrame
}

// isAuthAPI reports whether key is one of the APIs served before
// authentication.
func isAuthAPI(key int16) bool {
	return key == kmsg.ApiVersions.Int16() || key == kmsg.SASLHandshake.Int16() || key == kmsg.SASLAuthenticate.Int16()
}

// admit refuses, with the error that closes the connection, a request the
// connection may not send yet: anything but the authentication APIs before
// authentication, or after the session expired.
func (c *conn) admit(req *request) error {
	if isAuthAPI(req.key) {
		return nil
	}
	if !c.auth.done {
		return fmt.Errorf("%s before authentication", kmsg.NameForKey(req.key))
	}
	if !c.auth.expires.IsZero() && time.Now().After(c.auth.expires) {
		return fmt.Errorf("%s after the SASL session expired (%v) without re-authentication", kmsg.NameForKey(req.key), c.auth.expires)
	}
	return nil
}

// authFailedMessage is the one message of every failed authentication, so
// that an unknown user and a wrong password read alike.
func authFailedMessage(mech string) string {
	return "Authentication failed during authentication due to invalid credentials with SASL mechanism " + mech
}

// authenticate runs one SaslAuthenticate token through the pending
// mechanism. It returns the token to send back, and, when the exchange is
// complete, the authenticated user and when the session ends (zero:
// never).
func (c *conn) authenticate(token []byte) (out []byte, user string, expires time.Time, done bool, err error) {
	switch c.auth.mech {
	case mechPlain:
		user, err := c.a.plainAuth(token)
		return nil, user, time.Time{}, err == nil, err
	case mechSCRAM256, mechSCRAM512:
		if c.auth.scram == nil {
			m, _ := scram.Lookup(c.auth.mech)
			c.auth.scram = scram.NewServer(m, c.a.scramLookup(m))
		}
		out, done, err := c.auth.scram.Step(token)
		if err != nil {
			return nil, "", time.Time{}, false, err
		}
		if cf, parseErr := scram.ParseClientFirst(string(token)); parseErr == nil && cf.Extensions["tokenauth"] == "true" {
			return nil, "", time.Time{}, false, errors.New("delegation tokens are not supported")
		}
		return out, c.auth.scram.User(), time.Time{}, done, nil
	case mechOAuthBearer:
		if c.a.security.oauth == nil {
			return nil, "", time.Time{}, false, errors.New("OAUTHBEARER is not configured")
		}
		user, exp, err := c.a.security.oauth.authenticate(token, time.Now())
		return nil, user, exp, err == nil, err
	}
	return nil, "", time.Time{}, false, fmt.Errorf("no SASL mechanism chosen (SaslHandshake first)")
}

// plainAuth checks a SASL PLAIN message (RFC 4616: authzid NUL authcid
// NUL passwd) against the user's SCRAM credentials, SHA-512's if there
// are both. An unknown user costs the same key derivation as a known one.
func (a *Agent) plainAuth(token []byte) (string, error) {
	parts := bytes.Split(token, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		return "", errors.New("PLAIN message is not authzid NUL user NUL password")
	}
	authz, user, password := string(parts[0]), string(parts[1]), string(parts[2])
	if authz != "" && authz != user {
		return "", errors.New("PLAIN authorization id differs from the user")
	}
	for _, m := range []scram.Mechanism{scram.SHA512, scram.SHA256} {
		var cred scram.Credential
		var ok bool
		a.journal.View(func(s *journal.State) { cred, ok = s.ScramCredential(user, m.Name) })
		if ok {
			if m.Verify(cred, password) {
				return user, nil
			}
			return "", scram.ErrAuthFailed
		}
	}
	scram.SHA512.Verify(a.fakeCredential(scram.SHA512, user), password)
	return "", scram.ErrAuthFailed
}

// scramLookup finds a user's credential for a SCRAM exchange; an unknown
// user gets a made-up one, stable per user on this agent.
func (a *Agent) scramLookup(m scram.Mechanism) func(string) (scram.Credential, bool) {
	return func(user string) (scram.Credential, bool) {
		var cred scram.Credential
		var ok bool
		a.journal.View(func(s *journal.State) { cred, ok = s.ScramCredential(user, m.Name) })
		if ok {
			return cred, true
		}
		return a.fakeCredential(m, user), false
	}
}

// processFakeSecret keys the made-up credentials of unknown users on an
// agent without a cluster secret; it lives as long as the process.
var processFakeSecret = func() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}()

// fakeCredential is a credential for a user that does not exist: its
// salt is derived from the user's name, so asking twice gives the same
// salt, as for a real user, and its keys match no password. With a
// cluster secret the salt is the same on every agent, so asking two
// agents does not tell an unknown user from a real one either.
func (a *Agent) fakeCredential(m scram.Mechanism, user string) scram.Credential {
	key := unknownUserKey(a.cfg.ClusterSecret)
	if key == nil {
		key = processFakeSecret
	}
	h := hmac.New(sha512.New, key)
	h.Write([]byte(m.Name + "\x00" + user))
	sum := h.Sum(nil)
	size := m.Hash().Size()
	return scram.Credential{Salt: sum[:32], Iterations: scram.MinIterations,
		StoredKey: make([]byte, size), ServerKey: make([]byte, size)}
}

// readRawToken reads one bare SASL token (after SaslHandshake v0, as
// Kafka's clients before 1.0 send them), runs it through the mechanism and
// queues the bare answer. A failure is answered with nothing, after the
// delay, and closes the connection, as Kafka does for these clients.
func (c *conn) readRawToken(r io.Reader, size int32) error {
	if size < 0 || size > maxUnauthenticatedFrame {
		return fmt.Errorf("SASL token of %d bytes (limit %d)", size, maxUnauthenticatedFrame)
	}
	token, err := readFrame(r, int(size))
	if err != nil {
		return err
	}
	req := &request{key: kmsg.SASLAuthenticate.Int16(), received: time.Now()}
	mech := c.auth.mech
	out, user, expires, done, err := c.authenticate(token)
	p := pendingReply{req: req}
	switch {
	case err != nil:
		c.log.Info("SASL authentication failed", "mechanism", mech, "err", err)
		c.a.metrics.authFailures.WithLabelValues(mech).Inc()
		delay := c.a.security.cfg.FailedAuthDelay
		p.reply = reply{wait: func(ctx context.Context) kmsg.Response {
			sleepCtx(ctx, delay)
			return nil
		}}
		c.auth.closeAfterReply = true
	case done:
		c.auth = connAuth{required: c.auth.required, done: true, user: user, expires: expires}
		c.principal = "User:" + user
		if max := c.a.security.cfg.MaxReauth; max > 0 && (expires.IsZero() || time.Until(expires) > max) {
			c.auth.expires = time.Now().Add(max)
		}
		p.rawToken = &out
	default:
		p.rawToken = &out
	}
	select {
	case c.replies <- p:
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
	if c.auth.closeAfterReply {
		return errAuthFailed
	}
	return nil
}

// writeRawToken writes a bare size-prefixed token and flushes it.
func (c *conn) writeRawToken(w *bufio.Writer, token []byte, broken *bool) {
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(len(token)))
	w.Write(size[:])
	w.Write(token)
	if err := w.Flush(); err != nil {
		*broken = true
		c.cancel()
	}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
