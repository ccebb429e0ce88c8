package agent_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/silt-io/silt/agent"
)

// rawConn speaks Kafka's framing by hand, to send what clients would not.
type rawConn struct {
	net.Conn
	corr int32
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{Conn: nc}
}

func (r *rawConn) send(req kmsg.Request) error {
	r.corr++
	b := []byte{0, 0, 0, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(r.corr))
	b = binary.BigEndian.AppendUint16(b, 0xffff) // null client id
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	_, err := r.Write(b)
	return err
}

// do sends req and reads its response.
func (r *rawConn) do(req kmsg.Request) (kmsg.Response, error) {
	if err := r.send(req); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	resp := req.ResponseKind()
	body = body[4:]
	if resp.IsFlexible() && req.Key() != kmsg.ApiVersions.Int16() {
		body = body[1:]
	}
	return resp, resp.ReadFrom(body)
}

// closed reports whether the agent closed the connection: a read ends in
// EOF (or a reset), not in the deadline.
func (r *rawConn) closed() error {
	r.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("connection still open after 10s")
	}
	return nil
}

// authenticate runs SaslHandshake and one SaslAuthenticate v2.
func (r *rawConn) authenticate(mech string, token []byte) (*kmsg.SASLAuthenticateResponse, time.Duration, error) {
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, mech
	resp, err := r.do(hs)
	if err != nil {
		return nil, 0, fmt.Errorf("handshake: %w", err)
	}
	if code := resp.(*kmsg.SASLHandshakeResponse).ErrorCode; code != 0 {
		return nil, 0, fmt.Errorf("handshake: %w", kerr.ErrorForCode(code))
	}
	au := kmsg.NewPtrSASLAuthenticateRequest()
	au.Version, au.SASLAuthBytes = 2, token
	start := time.Now()
	resp, err = r.do(au)
	if err != nil {
		return nil, 0, fmt.Errorf("authenticate: %w", err)
	}
	return resp.(*kmsg.SASLAuthenticateResponse), time.Since(start), nil
}

// metadataErr is the error of one Metadata request by a client with opts.
func metadataErr(ctx context.Context, opts ...kgo.Opt) error {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	return err
}

func metadataRequest() kmsg.Request {
	m := kmsg.NewPtrMetadataRequest()
	m.Version = 12
	return m
}

// TestAuthenticationRefusals: every kind of bad input on the secure
// listeners is refused and closes only its own connection; an unknown
// user reads exactly like a wrong password; nothing is stored; a good
// client is served throughout.
func TestAuthenticationRefusals(t *testing.T) {
	s := startSecureAgent(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s.addUser(t, ctx, "alice", "alice-secret", kadm.ScramSha512)
	good := []kgo.Opt{kgo.SeedBrokers(s.a.ListenerAddr("SASL_SSL")), kgo.DialTLSConfig(s.ca.ClientTLS()),
		kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism())}
	if err := roundTrip(t, ctx, "good-before", good...); err != nil {
		t.Fatal(err)
	}
	seq := s.a.Journal().Seq()
	saslAddr := s.a.ListenerAddr("SASL_PLAINTEXT")

	t.Run("wrong password and unknown user read alike", func(t *testing.T) {
		var msgs []string
		for _, token := range [][]byte{[]byte("\x00alice\x00wrong"), []byte("\x00mallory\x00alice-secret")} {
			r := dialRaw(t, saslAddr)
			resp, took, err := r.authenticate("PLAIN", token)
			if err != nil {
				t.Fatal(err)
			}
			if resp.ErrorCode != kerr.SaslAuthenticationFailed.Code || resp.ErrorMessage == nil {
				t.Fatalf("%q: error %d, want SASL_AUTHENTICATION_FAILED", token, resp.ErrorCode)
			}
			if took < 100*time.Millisecond {
				t.Errorf("%q refused after %v, want at least 100ms", token, took)
			}
			msgs = append(msgs, *resp.ErrorMessage)
			if err := r.closed(); err != nil {
				t.Errorf("%q: %v", token, err)
			}
		}
		if msgs[0] != msgs[1] {
			t.Errorf("wrong password says %q, unknown user %q", msgs[0], msgs[1])
		}
		for _, pass := range []string{"wrong"} {
			for _, user := range []string{"alice", "mallory"} {
				err := metadataErr(ctx, kgo.SeedBrokers(saslAddr), kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
				if !errors.Is(err, kerr.SaslAuthenticationFailed) {
					t.Errorf("SCRAM %s/%s: %v, want SASL_AUTHENTICATION_FAILED", user, pass, err)
				}
			}
		}
	})
	t.Run("a request before authentication closes the connection", func(t *testing.T) {
		r := dialRaw(t, saslAddr)
		av := kmsg.NewPtrApiVersionsRequest()
		av.Version = 3
		if _, err := r.do(av); err != nil {
			t.Fatalf("ApiVersions before authentication: %v", err)
		}
		if err := r.send(metadataRequest()); err != nil {
			t.Fatal(err)
		}
		if err := r.closed(); err != nil {
			t.Error(err)
		}
	})
	t.Run("authenticate without a handshake", func(t *testing.T) {
		r := dialRaw(t, saslAddr)
		au := kmsg.NewPtrSASLAuthenticateRequest()
		au.Version, au.SASLAuthBytes = 2, []byte("\x00alice\x00alice-secret")
		resp, err := r.do(au)
		if err != nil || resp.(*kmsg.SASLAuthenticateResponse).ErrorCode != kerr.IllegalSaslState.Code {
			t.Fatalf("%v %+v, want ILLEGAL_SASL_STATE", err, resp)
		}
		if err := r.closed(); err != nil {
			t.Error(err)
		}
	})
	t.Run("an unknown mechanism is refused with the list", func(t *testing.T) {
		r := dialRaw(t, saslAddr)
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = 1, "GSSAPI"
		resp, err := r.do(hs)
		if err != nil {
			t.Fatal(err)
		}
		if h := resp.(*kmsg.SASLHandshakeResponse); h.ErrorCode != kerr.UnsupportedSaslMechanism.Code || len(h.SupportedMechanisms) != 4 {
			t.Errorf("GSSAPI: %+v", h)
		}
	})
	t.Run("100 MiB frame before authentication", func(t *testing.T) {
		r := dialRaw(t, saslAddr)
		frame := binary.BigEndian.AppendUint32(nil, 100<<20)
		if _, err := r.Write(append(frame, make([]byte, 1024)...)); err != nil {
			t.Fatal(err)
		}
		if err := r.closed(); err != nil {
			t.Error(err)
		}
	})
	t.Run("TLS client on the PLAINTEXT port", func(t *testing.T) {
		cfg := s.ca.ClientTLS()
		d := &net.Dialer{Timeout: 5 * time.Second}
		conn, err := tls.DialWithDialer(d, "tcp", s.a.ListenerAddr("PLAINTEXT"), cfg)
		if err == nil {
			conn.Close()
			t.Fatal("TLS handshake with a PLAINTEXT listener succeeded")
		}
	})
	t.Run("plaintext client on the SSL port", func(t *testing.T) {
		r := dialRaw(t, s.a.ListenerAddr("SSL"))
		av := kmsg.NewPtrApiVersionsRequest()
		av.Version = 3
		if _, err := r.do(av); err == nil {
			t.Fatal("an SSL listener answered a plaintext ApiVersions")
		}
		if err := r.closed(); err != nil {
			t.Error(err)
		}
	})
	t.Run("SaslHandshake on a listener without SASL", func(t *testing.T) {
		r := dialRaw(t, s.a.ListenerAddr("PLAINTEXT"))
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = 1, "PLAIN"
		resp, err := r.do(hs)
		if err != nil || resp.(*kmsg.SASLHandshakeResponse).ErrorCode != kerr.IllegalSaslState.Code {
			t.Errorf("%v %+v, want ILLEGAL_SASL_STATE", err, resp)
		}
	})
	t.Run("bad tokens", func(t *testing.T) {
		for name, tok := range map[string]string{
			"expired":       s.token(t, "RS256", s.claims("carol", -time.Hour)),
			"wrong issuer":  s.token(t, "ES256", map[string]any{"iss": "https://evil", "aud": testAudience, "sub": "carol", "exp": time.Now().Add(time.Hour).Unix()}),
			"wrong aud":     s.token(t, "ES256", map[string]any{"iss": testIssuer, "aud": "other", "sub": "carol", "exp": time.Now().Add(time.Hour).Unix()}),
			"bad signature": tamper(s.token(t, "RS256", s.claims("carol", time.Hour))),
			"not a JWT":     "hello",
		} {
			r := dialRaw(t, saslAddr)
			resp, _, err := r.authenticate("OAUTHBEARER", []byte("n,,\x01auth=Bearer "+tok+"\x01\x01"))
			if err != nil || resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
				t.Errorf("%s token: %v %+v, want SASL_AUTHENTICATION_FAILED", name, err, resp)
			}
		}
	})
	if got := s.a.Journal().Seq(); got != seq {
		t.Errorf("journal went from %d to %d entries during refused attempts", seq, got)
	}
	if err := roundTrip(t, ctx, "good-after", good...); err != nil {
		t.Fatal(err)
	}
}

// TestSessionExpiry: a token's expiry ends the session (KIP-368): the
// answer says when, and a request after it closes the connection; a
// client that re-authenticates in time (franz-go does) goes on.
func TestSessionExpiry(t *testing.T) {
	s := startSecureAgent(t, func(cfg *agent.Config) { cfg.Security.MaxReauth = 1500 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	saslAddr := s.a.ListenerAddr("SASL_PLAINTEXT")

	r := dialRaw(t, saslAddr)
	tok := s.token(t, "ES256", s.claims("carol", time.Hour))
	resp, _, err := r.authenticate("OAUTHBEARER", []byte("n,,\x01auth=Bearer "+tok+"\x01\x01"))
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("%v %+v", err, resp)
	}
	if resp.SessionLifetimeMillis <= 0 || resp.SessionLifetimeMillis > 1500 {
		t.Fatalf("session lifetime %dms, want (0, 1500]", resp.SessionLifetimeMillis)
	}
	expires := time.Now().Add(time.Duration(resp.SessionLifetimeMillis) * time.Millisecond)
	if _, err := r.do(metadataRequest()); err != nil {
		t.Fatalf("metadata within the session: %v", err)
	}
	time.Sleep(time.Until(expires) + 50*time.Millisecond) // the session's end is a time
	if err := r.send(metadataRequest()); err != nil {
		t.Fatal(err)
	}
	if err := r.closed(); err != nil {
		t.Errorf("request after the session: %v", err)
	}

	s.addUser(t, ctx, "alice", "alice-secret", kadm.ScramSha256)
	cl, err := kgo.NewClient(kgo.SeedBrokers(saslAddr), kgo.DefaultProduceTopic("reauth"), kgo.AllowAutoTopicCreation(),
		kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha256Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	deadline := time.Now().Add(4 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatalf("produce %d, across re-authentications: %v", n, err)
		}
		n++
		time.Sleep(100 * time.Millisecond)
	}
}

// TestMTLS: with client certificates required, a client with one signed by
// the CA is served and one without is refused at the handshake.
func TestMTLS(t *testing.T) {
	s := startSecureAgent(t, func(cfg *agent.Config) {
		cfg.Security.TLSClientAuth = "required"
		cfg.Security.PrincipalMappingRules = "RULE:^CN=(.*?),.*$/$1/L,DEFAULT"
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cert, _, _ := s.ca.Issue(t, pkix.Name{CommonName: "Alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"acme"}}, false, "alice")
	if err := roundTrip(t, ctx, "mtls", kgo.SeedBrokers(s.a.ListenerAddr("SSL")), kgo.DialTLSConfig(s.ca.ClientTLS(cert))); err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", s.a.ListenerAddr("SSL"), s.ca.ClientTLS())
	if err == nil {
		// TLS 1.3 reports the refusal at the first read.
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil {
		t.Fatal("a client without a certificate was served")
	}
	// SASL_SSL asks for no certificate: its clients authenticate with SASL.
	s.addUser(t, ctx, "bob", "bob-secret", kadm.ScramSha512)
	if err := roundTrip(t, ctx, "mtls-sasl", kgo.SeedBrokers(s.a.ListenerAddr("SASL_SSL")), kgo.DialTLSConfig(s.ca.ClientTLS()),
		kgo.SASL(scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha512Mechanism())); err != nil {
		t.Fatalf("SASL_SSL without a client certificate: %v", err)
	}
}

// TestSASLHandshakeV0: after SaslHandshake v0 the tokens travel bare, as
// Kafka's clients before 1.0 send them; a right password is answered with
// an empty token and the session serves requests, a wrong one with
// nothing, after the delay, and a closed connection.
func TestSASLHandshakeV0(t *testing.T) {
	s := startSecureAgent(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.addUser(t, ctx, "alice", "alice-secret", kadm.ScramSha512)
	for _, tc := range []struct {
		password string
		ok       bool
	}{{"alice-secret", true}, {"wrong", false}} {
		r := dialRaw(t, s.a.ListenerAddr("SASL_PLAINTEXT"))
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = 0, "PLAIN"
		if resp, err := r.do(hs); err != nil || resp.(*kmsg.SASLHandshakeResponse).ErrorCode != 0 {
			t.Fatalf("handshake v0: %v %+v", err, resp)
		}
		token := []byte("\x00alice\x00" + tc.password)
		start := time.Now()
		if _, err := r.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(token))), token...)); err != nil {
			t.Fatal(err)
		}
		var size [4]byte
		_, err := io.ReadFull(r, size[:])
		if !tc.ok {
			if err == nil {
				t.Errorf("a wrong password was answered")
			}
			if took := time.Since(start); took < 100*time.Millisecond {
				t.Errorf("wrong password refused after %v", took)
			}
			continue
		}
		if err != nil || binary.BigEndian.Uint32(size[:]) != 0 {
			t.Fatalf("right password: %v, token of %d bytes", err, binary.BigEndian.Uint32(size[:]))
		}
		if _, err := r.do(metadataRequest()); err != nil {
			t.Errorf("metadata after a v0 authentication: %v", err)
		}
	}
}

// TestJWKSRotation: a JWKS file replaced on disk is used without a
// restart: a token of the new key is accepted, one of the key removed is
// refused.
func TestJWKSRotation(t *testing.T) {
	s := startSecureAgent(t, nil)
	saslAddr := s.a.ListenerAddr("SASL_PLAINTEXT")
	auth := func(tok string) int16 {
		r := dialRaw(t, saslAddr)
		defer r.Close()
		resp, _, err := r.authenticate("OAUTHBEARER", []byte("n,,\x01auth=Bearer "+tok+"\x01\x01"))
		if err != nil {
			t.Fatal(err)
		}
		return resp.ErrorCode
	}
	oldTok := s.token(t, "ES256", s.claims("carol", time.Hour))
	if code := auth(oldTok); code != 0 {
		t.Fatalf("before rotation: error %d", code)
	}
	// Rotate: a new EC key replaces the old one (same kid, as an identity
	// provider may do).
	var err error
	if s.ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.ca.Dir, "jwks.json")
	if err := os.WriteFile(path, s.jwks(), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Second)
	os.Chtimes(path, later, later)
	newTok := s.token(t, "ES256", s.claims("carol", time.Hour))
	deadline := time.Now().Add(10 * time.Second)
	for auth(newTok) != 0 { // the file is checked at most once a second
		if time.Now().After(deadline) {
			t.Fatal("a token of the rotated key is still refused after 10s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code := auth(oldTok); code != kerr.SaslAuthenticationFailed.Code {
		t.Errorf("a token of the removed key: error %d, want SASL_AUTHENTICATION_FAILED", code)
	}
}

// tamper changes one character of a JWT's signature (the last part) to
// another, so the token no longer verifies; it never leaves it unchanged.
// The character is not the last one, whose low bits base64url may ignore.
func tamper(tok string) string {
	i := strings.LastIndexByte(tok, '.') + 1
	b := []byte(tok)
	if b[i] == 'x' {
		b[i] = 'y'
	} else {
		b[i] = 'x'
	}
	return string(b)
}
