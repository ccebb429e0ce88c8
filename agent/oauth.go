package agent

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/silt-io/silt/internal/jwt"
)

// SASL OAUTHBEARER (RFC 7628, KIP-255): the client sends a JWT; it is
// accepted when it is signed by a key of the JWKS file the operator gave
// (--oauth-jwks-file), issued by --oauth-issuer for --oauth-audience, and
// not expired. The principal is the token's sub. The session ends when the
// token expires: the client authenticates again with a fresh token
// (KIP-368) or is closed.

// oauthLeeway tolerates clock skew between the token's issuer and silt.
const oauthLeeway = 30 * time.Second

// oauthVerifier checks OAUTHBEARER tokens.
type oauthVerifier struct {
	keys     *jwt.KeySet
	issuer   string
	audience string
}

func newOAuthVerifier(cfg Security, log *slog.Logger) (*oauthVerifier, error) {
	data, err := os.ReadFile(cfg.OAuthJWKSFile)
	if err != nil {
		return nil, fmt.Errorf("--oauth-jwks-file: %w", err)
	}
	keys, err := jwt.ParseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("--oauth-jwks-file %s: %w", cfg.OAuthJWKSFile, err)
	}
	if cfg.OAuthIssuer == "" || cfg.OAuthAudience == "" {
		log.Warn("OAUTHBEARER without --oauth-issuer or --oauth-audience: any token the JWKS keys signed is accepted")
	}
	return &oauthVerifier{keys: keys, issuer: cfg.OAuthIssuer, audience: cfg.OAuthAudience}, nil
}

// authenticate checks a client's initial response and returns the user
// and when its token expires.
func (v *oauthVerifier) authenticate(msg []byte, now time.Time) (string, time.Time, error) {
	token, err := parseOAuthBearer(msg)
	if err != nil {
		return "", time.Time{}, err
	}
	c, err := v.keys.Verify(token, jwt.Expect{Issuer: v.issuer, Audience: v.audience, Now: now, Leeway: oauthLeeway})
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
