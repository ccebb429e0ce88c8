package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

type keys struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	set *KeySet
}

func testKeys(t testing.TB) keys {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	doc, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "r", "n": b64(r.N.Bytes()), "e": b64(big.NewInt(int64(r.E)).Bytes())},
		{"kty": "EC", "kid": "e", "crv": "P-256", "x": b64(e.X.FillBytes(make([]byte, 32))), "y": b64(e.Y.FillBytes(make([]byte, 32)))},
		{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
		{"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
	}})
	set, err := ParseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	return keys{r, e, set}
}

func (k keys) sign(t testing.TB, header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	signed := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	d := sha256.Sum256([]byte(signed))
	var sig []byte
	switch header["alg"] {
	case "RS256":
		sig, _ = rsa.SignPKCS1v15(rand.Reader, k.rsa, crypto.SHA256, d[:])
	case "ES256":
		r, s, _ := ecdsa.Sign(rand.Reader, k.ec, d[:])
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	default:
		sig = []byte("x")
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestVerify(t *testing.T) {
	k := testKeys(t)
	now := time.Unix(1_800_000_000, 0)
	good := func() map[string]any {
		return map[string]any{"iss": "iss", "aud": "silt", "sub": "carol", "exp": now.Unix() + 60}
	}
	with := func(key string, v any) map[string]any {
		c := good()
		if v == nil {
			delete(c, key)
		} else {
			c[key] = v
		}
		return c
	}
	want := Expect{Issuer: "iss", Audience: "silt", Now: now, Leeway: 5 * time.Second}
	for _, tc := range []struct {
		name   string
		header map[string]any
		claims map[string]any
		ok     bool
	}{
		{"RS256", map[string]any{"alg": "RS256", "kid": "r"}, good(), true},
		{"ES256", map[string]any{"alg": "ES256", "kid": "e"}, good(), true},
		{"aud list", map[string]any{"alg": "ES256", "kid": "e"}, with("aud", []string{"a", "silt"}), true},
		{"fractional exp", map[string]any{"alg": "ES256", "kid": "e"}, with("exp", float64(now.Unix())+0.5), true},
		{"within leeway", map[string]any{"alg": "ES256", "kid": "e"}, with("exp", now.Unix()-2), true},
		{"expired", map[string]any{"alg": "ES256", "kid": "e"}, with("exp", now.Unix()-10), false},
		{"no exp", map[string]any{"alg": "ES256", "kid": "e"}, with("exp", nil), false},
		{"not yet", map[string]any{"alg": "ES256", "kid": "e"}, with("nbf", now.Unix()+60), false},
		{"wrong issuer", map[string]any{"alg": "ES256", "kid": "e"}, with("iss", "evil"), false},
		{"wrong audience", map[string]any{"alg": "ES256", "kid": "e"}, with("aud", []string{"a"}), false},
		{"no sub", map[string]any{"alg": "ES256", "kid": "e"}, with("sub", nil), false},
		{"alg none", map[string]any{"alg": "none", "kid": "e"}, good(), false},
		{"HS256", map[string]any{"alg": "HS256", "kid": "hmac"}, good(), false},
		{"RS256 with the EC key", map[string]any{"alg": "RS256", "kid": "e"}, good(), false},
		{"unknown kid", map[string]any{"alg": "RS256", "kid": "zzz"}, good(), false},
		{"crit", map[string]any{"alg": "ES256", "kid": "e", "crit": []string{"x"}}, good(), false},
	} {
		c, err := k.set.Verify(k.sign(t, tc.header, tc.claims), want)
		if tc.ok != (err == nil) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v does not wrap ErrInvalid", tc.name, err)
		}
		if tc.ok && c.Subject != "carol" {
			t.Errorf("%s: subject %q", tc.name, c.Subject)
		}
	}
	tok := k.sign(t, map[string]any{"alg": "ES256", "kid": "e"}, good())
	parts := strings.Split(tok, ".")
	other, _ := json.Marshal(with("sub", "admin"))
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(other) + "." + parts[2]
	if _, err := k.set.Verify(forged, want); err == nil {
		t.Error("a token whose claims were changed verified")
	}
}

func TestParseJWKS(t *testing.T) {
	for _, doc := range []string{``, `{}`, `{"keys":[]}`, `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-256","x":"AQ","y":"AQ"}]}`, `{"keys":[{"kty":"oct","k":"AA"}]}`} {
		if _, err := ParseJWKS([]byte(doc)); err == nil {
			t.Errorf("%s accepted", doc)
		}
	}
}

func FuzzVerify(f *testing.F) {
	k := testKeys(f)
	f.Add(k.sign(f, map[string]any{"alg": "ES256", "kid": "e"}, map[string]any{"sub": "x", "exp": 1e10}))
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, tok string) {
		k.set.Verify(tok, Expect{Now: time.Unix(0, 0)}) // must not panic
		if h, p, _, _, err := Split(tok); err == nil {
			json.Valid(h)
			ParseClaims(p)
		}
	})
}

func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AQ","y":"AQ"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		ParseJWKS(doc) // must not panic
	})
}
