// Package scram is the server side of SCRAM (RFC 5802), with the SHA-256
// and SHA-512 mechanisms Kafka serves (RFC 7677, KIP-84).
//
// It exists apart from the agent because it is the one piece of the SASL
// code whose correctness is purely a matter of the RFCs: the credential a
// server keeps (salt, iterations, StoredKey, ServerKey, never the password
// nor anything that logs in by itself), the two messages a client sends
// and their parsers, and the proof check. The agent looks credentials up in
// the journal's state and runs a Server per authentication.
package scram

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// MinIterations is the fewest PBKDF2 iterations a credential may have,
// Kafka's floor and RFC 7677's recommendation.
const MinIterations = 4096

// MaxIterations bounds the iterations of a credential, Kafka's ceiling,
// so that one authentication cannot cost a server seconds.
const MaxIterations = 16384

// Mechanism is a SCRAM mechanism: its SASL name and hash.
type Mechanism struct {
	Name string
	Hash func() hash.Hash
}

var (
	// SHA256 is SCRAM-SHA-256 (RFC 7677).
	SHA256 = Mechanism{Name: "SCRAM-SHA-256", Hash: sha256.New}
	// SHA512 is SCRAM-SHA-512, as Kafka names it.
	SHA512 = Mechanism{Name: "SCRAM-SHA-512", Hash: sha512.New}
	// sha1Mech is SCRAM-SHA-1, only for RFC 5802's test vector.
	sha1Mech = Mechanism{Name: "SCRAM-SHA-1", Hash: sha1.New}
)

// Lookup returns the mechanism of a SASL name.
func Lookup(name string) (Mechanism, bool) {
	switch name {
	case SHA256.Name:
		return SHA256, true
	case SHA512.Name:
		return SHA512, true
	}
	return Mechanism{}, false
}

// Credential is what a server keeps of a user's password for one
// mechanism (RFC 5802 §3).
type Credential struct {
	Salt       []byte `json:"salt"`
	Iterations int    `json:"iterations"`
	StoredKey  []byte `json:"stored_key"`
	ServerKey  []byte `json:"server_key"`
}

// SaltedPassword is Hi(password, salt, iterations): PBKDF2 with the
// mechanism's HMAC.
func (m Mechanism) SaltedPassword(password string, salt []byte, iterations int) ([]byte, error) {
	if iterations < MinIterations || iterations > MaxIterations {
		return nil, fmt.Errorf("%s: %d iterations, want %d to %d", m.Name, iterations, MinIterations, MaxIterations)
	}
	return pbkdf2.Key(m.Hash, password, salt, iterations, m.Hash().Size())
}

// FromSalted derives the credential from a salted password, which is what
// Kafka's AlterUserScramCredentials carries (KIP-554); the salted password
// itself is not kept.
func (m Mechanism) FromSalted(salted, salt []byte, iterations int) (Credential, error) {
	switch {
	case iterations < MinIterations || iterations > MaxIterations:
		return Credential{}, fmt.Errorf("%s: %d iterations, want %d to %d", m.Name, iterations, MinIterations, MaxIterations)
	case len(salted) != m.Hash().Size():
		return Credential{}, fmt.Errorf("%s: salted password of %d bytes, want %d", m.Name, len(salted), m.Hash().Size())
	case len(salt) == 0:
		return Credential{}, fmt.Errorf("%s: empty salt", m.Name)
	}
	clientKey := m.hmac(salted, []byte("Client Key"))
	h := m.Hash()
	h.Write(clientKey)
	return Credential{
		Salt: append([]byte(nil), salt...), Iterations: iterations,
		StoredKey: h.Sum(nil), ServerKey: m.hmac(salted, []byte("Server Key")),
	}, nil
}

// NewCredential makes a credential for password with a fresh random salt.
func (m Mechanism) NewCredential(password string, iterations int) (Credential, error) {
	salt := make([]byte, 32)
	rand.Read(salt)
	salted, err := m.SaltedPassword(password, salt, iterations)
	if err != nil {
		return Credential{}, err
	}
	return m.FromSalted(salted, salt, iterations)
}

// Verify reports whether password is the one the credential was made
// from (for SASL PLAIN against SCRAM credentials), in constant time.
func (m Mechanism) Verify(c Credential, password string) bool {
	salted, err := m.SaltedPassword(password, c.Salt, c.Iterations)
	if err != nil {
		return false
	}
	got, err := m.FromSalted(salted, c.Salt, c.Iterations)
	return err == nil && subtle.ConstantTimeCompare(got.StoredKey, c.StoredKey) == 1
}

func (m Mechanism) hmac(key, msg []byte) []byte {
	h := hmac.New(m.Hash, key)
	h.Write(msg)
	return h.Sum(nil)
}

// ErrAuthFailed is returned when the client's proof is wrong or the user
// unknown: the two are not told apart.
var ErrAuthFailed = errors.New("scram: authentication failed")

// ErrMalformed wraps every error about a message that does not parse.
var ErrMalformed = errors.New("scram: malformed message")

// Server runs one SCRAM authentication: Step is given the client-first
// message, then the client-final message.
type Server struct {
	mech Mechanism
	// lookup returns the user's credential; an unknown user gets ok false
	// and a made-up credential (stable per user), so that the exchange
	// looks the same until the proof fails.
	lookup func(user string) (c Credential, ok bool)
	nonce  func() string

	step      int
	user      string
	known     bool
	cred      Credential
	gs2       string // the client's GS2 header
	nonceAll  string // client nonce + server nonce
	firstBare string // client-first-message-bare
	srvFirst  string // server-first-message
}

// NewServer starts an authentication with mechanism m.
func NewServer(m Mechanism, lookup func(user string) (Credential, bool)) *Server {
	return &Server{mech: m, lookup: lookup, nonce: randomNonce}
}

func randomNonce() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)
}

// User is the authenticated user once Step has finished.
func (s *Server) User() string { return s.user }

// Step takes the client's next message and returns the server's answer;
// done is set with the server-final message. An error ends the
// authentication: ErrAuthFailed for a wrong proof or unknown user, one
// wrapping ErrMalformed for a message that does not parse.
func (s *Server) Step(msg []byte) (resp []byte, done bool, err error) {
	switch s.step {
	case 0:
		s.step++
		return s.first(string(msg))
	case 1:
		s.step++
		return s.final(string(msg))
	}
	return nil, false, fmt.Errorf("%w: message after the end of the exchange", ErrMalformed)
}

func (s *Server) first(msg string) ([]byte, bool, error) {
	cf, err := ParseClientFirst(msg)
	if err != nil {
		return nil, false, err
	}
	s.user, s.gs2, s.firstBare = cf.User, cf.GS2Header, cf.Bare
	s.cred, s.known = s.lookup(cf.User)
	s.nonceAll = cf.Nonce + s.nonce()
	s.srvFirst = "r=" + s.nonceAll + ",s=" + base64.StdEncoding.EncodeToString(s.cred.Salt) +
		",i=" + fmt.Sprint(s.cred.Iterations)
	return []byte(s.srvFirst), false, nil
}

func (s *Server) final(msg string) ([]byte, bool, error) {
	cf, err := ParseClientFinal(msg)
	if err != nil {
		return nil, false, err
	}
	if cf.ChannelBinding != base64.StdEncoding.EncodeToString([]byte(s.gs2)) {
		return nil, false, fmt.Errorf("%w: channel binding does not repeat the GS2 header", ErrMalformed)
	}
	// RFC 5802 wants the nonce of server-first repeated; librdkafka sends
	// its own nonce in front of it once more, and Kafka's broker accepts
	// any nonce that ends with server-first's (the proof covers the
	// message as sent either way): so does this server.
	if !strings.HasSuffix(cf.Nonce, s.nonceAll) {
		return nil, false, ErrAuthFailed
	}
	authMsg := []byte(s.firstBare + "," + s.srvFirst + "," + cf.WithoutProof)
	sig := s.mech.hmac(s.cred.StoredKey, authMsg)
	if len(cf.Proof) != len(sig) {
		return nil, false, ErrAuthFailed
	}
	clientKey := make([]byte, len(sig))
	subtle.XORBytes(clientKey, cf.Proof, sig)
	h := s.mech.Hash()
	h.Write(clientKey)
	if subtle.ConstantTimeCompare(h.Sum(nil), s.cred.StoredKey) != 1 || !s.known {
		return nil, false, ErrAuthFailed
	}
	v := s.mech.hmac(s.cred.ServerKey, authMsg)
	return []byte("v=" + base64.StdEncoding.EncodeToString(v)), true, nil
}
