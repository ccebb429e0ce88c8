package agent

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/silt-io/silt/internal/jwt"
)

// SASL OAUTHBEARER (RFC 7628, KIP-255): the client sends a JWT; it is
// accepted when it is signed by a key of the JWKS file the operator gave
// (--oauth-jwks-file), issued by --oauth-issuer for --oauth-audience, and
// not expired. The principal is the token's sub. The session ends when the
// token expires: the client authenticates again with a fresh token
// (KIP-368) or is closed. The JWKS file is read again when it changes
// (checked at most once a second), so an identity provider's key rotation
// needs no restart.

// oauthLeeway tolerates clock skew between the token's issuer and silt.
const oauthLeeway = 30 * time.Second

// oauthVerifier checks OAUTHBEARER tokens.
type oauthVerifier struct {
	file     string
	issuer   string
	audience string
	every    time.Duration // least time between two checks of the file
	log      *slog.Logger

	mu      sync.Mutex // guards the fields below
	keys    *jwt.KeySet
	stamp   fileStamp
	checked time.Time
}

func newOAuthVerifier(cfg Security, log *slog.Logger) (*oauthVerifier, error) {
	v := &oauthVerifier{file: cfg.OAuthJWKSFile, issuer: cfg.OAuthIssuer, audience: cfg.OAuthAudience, every: time.Second, log: log}
	if err := v.load(); err != nil {
		return nil, err
	}
	if cfg.OAuthIssuer == "" || cfg.OAuthAudience == "" {
		log.Warn("OAUTHBEARER without --oauth-issuer or --oauth-audience: any token the JWKS keys signed is accepted")
	}
	return v, nil
}

// load reads the JWKS file now; on error the keys in use stay.
func (v *oauthVerifier) load() error {
	st, err := stampOf(v.file)
	if err != nil {
		return fmt.Errorf("--oauth-jwks-file: %w", err)
	}
	data, err := os.ReadFile(v.file)
	if err != nil {
		return fmt.Errorf("--oauth-jwks-file: %w", err)
	}
	keys, err := jwt.ParseJWKS(data)
	if err != nil {
		return fmt.Errorf("--oauth-jwks-file %s: %w", v.file, err)
	}
	v.mu.Lock()
	v.keys, v.stamp, v.checked = keys, st, time.Now()
	v.mu.Unlock()
	return nil
}

// keySet returns the keys, read again first if the file changed. A file
// that does not parse (caught half written) is logged and the previous
// keys used.
func (v *oauthVerifier) keySet() *jwt.KeySet {
	v.mu.Lock()
	due := time.Since(v.checked) >= v.every
	if due {
		v.checked = time.Now()
	}
	keys, stamp := v.keys, v.stamp
	v.mu.Unlock()
	if !due {
		return keys
	}
	if st, err := stampOf(v.file); err != nil || st == stamp {
		return keys
	}
	if err := v.load(); err != nil {
		v.log.Warn("JWKS file changed but does not load; keeping the previous keys", "err", err)
		return keys
	}
	v.log.Info("JWKS file reloaded", "file", v.file)
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.keys
}

// authenticate checks a client's initial response and returns the user
// and when its token expires.
func (v *oauthVerifier) authenticate(msg []byte, now time.Time) (string, time.Time, error) {
	token, err := parseOAuthBearer(msg)
	if err != nil {
		return "", time.Time{}, err
	}
	c, err := v.keySet().Verify(token, jwt.Expect{Issuer: v.issuer, Audience: v.audience, Now: now, Leeway: oauthLeeway})
	if err != nil {
		return "", time.Time{}, err
	}
	return c.Subject, c.ExpiresAt, nil
}

// parseOAuthBearer returns the bearer token of an OAUTHBEARER client
// initial response (RFC 7628 §3.1): a GS2 header, then key=value pairs
// each ended by 0x01, one of them auth=Bearer <token>, then 0x01.
func parseOAuthBearer(msg []byte) (string, error) {
	header, rest, ok := bytes.Cut(msg, []byte{1})
	if !ok || !bytes.HasPrefix(header, []byte("n,")) && !bytes.HasPrefix(header, []byte("y,")) {
		return "", errors.New("OAUTHBEARER message without a GS2 header")
	}
	if bytes.Count(header, []byte(",")) != 2 || !bytes.HasSuffix(header, []byte(",")) {
		return "", errors.New("OAUTHBEARER GS2 header malformed")
	}
	// Each pair ends with 0x01 and one more ends the message.
	if !bytes.HasSuffix(rest, []byte{1, 1}) {
		return "", errors.New("OAUTHBEARER message not terminated")
	}
	token := ""
	for _, kv := range bytes.Split(rest[:len(rest)-2], []byte{1}) {
		if len(kv) == 0 {
			return "", errors.New("OAUTHBEARER message with an empty pair")
		}
		k, v, ok := strings.Cut(string(kv), "=")
		if !ok {
			return "", fmt.Errorf("OAUTHBEARER pair %q without '='", kv)
		}
		if k != "auth" {
			continue // extensions (KIP-342) are not used
		}
		scheme, t, ok := strings.Cut(v, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || t == "" {
			return "", errors.New("OAUTHBEARER auth is not 'Bearer <token>'")
		}
		token = strings.TrimSpace(t)
	}
	if token == "" {
		return "", errors.New("OAUTHBEARER message without auth=Bearer")
	}
	return token, nil
}
