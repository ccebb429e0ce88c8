// Package jwt verifies JSON Web Tokens (RFC 7519) signed with RS256 or
// ES256 against the keys of a JWKS document (RFC 7517), with the standard
// library's crypto alone.
//
// It exists for SASL OAUTHBEARER (RFC 7628): a broker accepts a bearer
// token when its signature verifies with a key the operator trusts and its
// issuer, audience and expiry are right. Only what that needs is here: no
// token creation (tests sign with crypto directly), no "none" algorithm,
// no HMAC (a shared secret in the broker would let it mint tokens), no
// fetching keys over the network.
package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// ErrInvalid wraps every reason a token is refused.
var ErrInvalid = errors.New("jwt: invalid token")

// KeySet is the verification keys of a JWKS document, by key id.
type KeySet struct {
	keys map[string]crypto.PublicKey
}

// maxTokenSize bounds a token's length; a JWT is a few KiB at most.
const maxTokenSize = 64 << 10

// ParseJWKS reads a JWKS document: RSA keys (kty RSA, n, e) and P-256 EC
// keys (kty EC, crv P-256, x, y). Keys of other kinds, or whose use is not
// "sig", are skipped; a document with no usable key is an error.
func ParseJWKS(data []byte) (*KeySet, error) {
	var doc struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			N   string `json:"n"`
			E   string `json:"e"`
			Crv string `json:"crv"`
			X   string `json:"x"`
			Y   string `json:"y"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	ks := &KeySet{keys: map[string]crypto.PublicKey{}}
	for _, k := range doc.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		switch k.Kty {
		case "RSA":
			n, err1 := b64int(k.N)
			e, err2 := b64int(k.E)
			if err := errors.Join(err1, err2); err != nil || !e.IsInt64() || e.Int64() < 3 || n.BitLen() < 2048 {
				return nil, fmt.Errorf("jwks: RSA key %q: bad modulus or exponent (at least 2048 bits)", k.Kid)
			}
			ks.keys[k.Kid] = &rsa.PublicKey{N: n, E: int(e.Int64())}
		case "EC":
			if k.Crv != "P-256" {
				continue
			}
			x, err1 := b64int(k.X)
			y, err2 := b64int(k.Y)
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("jwks: EC key %q: %w", k.Kid, err)
			}
			pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}
			if _, err := pub.ECDH(); err != nil {
				return nil, fmt.Errorf("jwks: EC key %q is not on P-256", k.Kid)
			}
			ks.keys[k.Kid] = pub
		}
	}
	if len(ks.keys) == 0 {
		return nil, errors.New("jwks: no RSA or P-256 signing key")
	}
	return ks, nil
}

func b64int(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, errors.New("not base64url")
	}
	return new(big.Int).SetBytes(b), nil
}

// Claims are the registered claims a broker checks.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	ExpiresAt time.Time
	NotBefore time.Time // zero if absent
}

// Expect is what a token must say besides its signature.
type Expect struct {
	// Issuer, if set, must be the token's iss.
	Issuer string
	// Audience, if set, must be among the token's aud.
	Audience string
	// Now is the time exp and nbf are checked against.
	Now time.Time
	// Leeway tolerates clock skew in exp and nbf.
	Leeway time.Duration
}

// Verify checks a compact-serialized token's signature with its key
// (header kid; the only key if the set has one and the token names none)
// and the claims against want. Every refusal wraps ErrInvalid.
func (ks *KeySet) Verify(token string, want Expect) (Claims, error) {
	header, payload, signed, sig, err := Split(token)
	if err != nil {
		return Claims{}, err
	}
	var h struct {
		Alg  string   `json:"alg"`
		Kid  string   `json:"kid"`
		Crit []string `json:"crit"`
	}
	if err := json.Unmarshal(header, &h); err != nil {
		return Claims{}, fmt.Errorf("%w: header: %v", ErrInvalid, err)
	}
	if len(h.Crit) > 0 {
		return Claims{}, fmt.Errorf("%w: critical header parameters %v", ErrInvalid, h.Crit)
	}
	key, ok := ks.keys[h.Kid]
	if !ok && h.Kid == "" && len(ks.keys) == 1 {
		for _, k := range ks.keys {
			key, ok = k, true
		}
	}
	if !ok {
		return Claims{}, fmt.Errorf("%w: no key %q in the key set", ErrInvalid, h.Kid)
	}
	digest := sha256.Sum256([]byte(signed))
	switch k := key.(type) {
	case *rsa.PublicKey:
		if h.Alg != "RS256" || rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) != nil {
			return Claims{}, fmt.Errorf("%w: bad %s signature for key %q", ErrInvalid, h.Alg, h.Kid)
		}
	case *ecdsa.PublicKey:
		if h.Alg != "ES256" || len(sig) != 64 ||
			!ecdsa.Verify(k, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			return Claims{}, fmt.Errorf("%w: bad %s signature for key %q", ErrInvalid, h.Alg, h.Kid)
		}
	default:
		return Claims{}, fmt.Errorf("%w: key %q of an unknown kind", ErrInvalid, h.Kid)
	}
	c, err := ParseClaims(payload)
	if err != nil {
		return Claims{}, err
	}
	switch {
	case c.ExpiresAt.IsZero():
		return c, fmt.Errorf("%w: no exp", ErrInvalid)
	case !want.Now.Before(c.ExpiresAt.Add(want.Leeway)):
		return c, fmt.Errorf("%w: expired at %v", ErrInvalid, c.ExpiresAt)
	case !c.NotBefore.IsZero() && want.Now.Add(want.Leeway).Before(c.NotBefore):
		return c, fmt.Errorf("%w: not valid before %v", ErrInvalid, c.NotBefore)
	case want.Issuer != "" && c.Issuer != want.Issuer:
		return c, fmt.Errorf("%w: issuer %q, want %q", ErrInvalid, c.Issuer, want.Issuer)
	case want.Audience != "" && !slices.Contains(c.Audience, want.Audience):
		return c, fmt.Errorf("%w: audience %v lacks %q", ErrInvalid, c.Audience, want.Audience)
	case c.Subject == "":
		return c, fmt.Errorf("%w: no sub", ErrInvalid)
	}
	return c, nil
}

// Split decodes a compact JWS: its header and payload JSON, the signed
// part (header.payload as sent) and the signature.
func Split(token string) (header, payload []byte, signed string, sig []byte, err error) {
	if len(token) > maxTokenSize {
		return nil, nil, "", nil, fmt.Errorf("%w: token of %d bytes", ErrInvalid, len(token))
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, "", nil, fmt.Errorf("%w: %d parts, want 3", ErrInvalid, len(parts))
	}
	dec := base64.RawURLEncoding
	header, err1 := dec.DecodeString(parts[0])
	payload, err2 := dec.DecodeString(parts[1])
	sig, err3 := dec.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, nil, "", nil, fmt.Errorf("%w: not base64url: %v", ErrInvalid, err)
	}
	return header, payload, parts[0] + "." + parts[1], sig, nil
}

// ParseClaims decodes a payload's registered claims; aud may be a string
// or a list, times are NumericDate (seconds, possibly fractional).
func ParseClaims(payload []byte) (Claims, error) {
	var raw struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		Exp *float64        `json:"exp"`
		Nbf *float64        `json:"nbf"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return Claims{}, fmt.Errorf("%w: claims: %v", ErrInvalid, err)
	}
	c := Claims{Issuer: raw.Iss, Subject: raw.Sub}
	if len(raw.Aud) > 0 && string(raw.Aud) != "null" {
		var one string
		if json.Unmarshal(raw.Aud, &one) == nil {
			c.Audience = []string{one}
		} else if err := json.Unmarshal(raw.Aud, &c.Audience); err != nil {
			return Claims{}, fmt.Errorf("%w: aud is neither a string nor a list of strings", ErrInvalid)
		}
	}
	var err error
	if c.ExpiresAt, err = numericDate(raw.Exp); err != nil {
		return Claims{}, err
	}
	if c.NotBefore, err = numericDate(raw.Nbf); err != nil {
		return Claims{}, err
	}
	return c, nil
}

func numericDate(f *float64) (time.Time, error) {
	if f == nil {
		return time.Time{}, nil
	}
	if *f < 0 || *f > 1<<40 {
		return time.Time{}, fmt.Errorf("%w: date %v out of range", ErrInvalid, *f)
	}
	return time.UnixMilli(int64(*f * 1000)), nil
}
