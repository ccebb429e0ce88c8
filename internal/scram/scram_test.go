package scram

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// TestRFCVectors runs the exchanges of RFC 5802 §5 (SCRAM-SHA-1) and RFC
// 7677 §3 (SCRAM-SHA-256) through a Server: the same server-first and
// server-final messages, byte for byte.
func TestRFCVectors(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		mech                     Mechanism
		salt                     string
		clientFirst, serverNonce string
		serverFirst              string
		clientFinal, serverFinal string
	}{
		{
			name: "RFC 5802", mech: sha1Mech, salt: "QSXCR+Q6sek8bf92",
			clientFirst: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
			serverNonce: "3rfcNHYJY1ZVvWVs7j",
			serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			clientFinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
		},
		{
			name: "RFC 7677", mech: SHA256, salt: "W22ZaJ0SNY7soEsUEjb6gQ==",
			clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
			serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
			serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			salt, _ := base64.StdEncoding.DecodeString(tc.salt)
			salted, err := tc.mech.SaltedPassword("pencil", salt, 4096)
			if err != nil {
				t.Fatal(err)
			}
			cred, err := tc.mech.FromSalted(salted, salt, 4096)
			if err != nil {
				t.Fatal(err)
			}
			s := NewServer(tc.mech, func(u string) (Credential, bool) { return cred, u == "user" })
			s.nonce = func() string { return tc.serverNonce }
			first, done, err := s.Step([]byte(tc.clientFirst))
			if err != nil || done || string(first) != tc.serverFirst {
				t.Fatalf("server-first = %q, %v, %v; want %q", first, done, err, tc.serverFirst)
			}
			final, done, err := s.Step([]byte(tc.clientFinal))
			if err != nil || !done || string(final) != tc.serverFinal {
				t.Fatalf("server-final = %q, %v, %v; want %q", final, done, err, tc.serverFinal)
			}
			if s.User() != "user" || !tc.mech.Verify(cred, "pencil") || tc.mech.Verify(cred, "pencil2") {
				t.Fatal("user or PLAIN verification wrong")
			}
		})
	}
}

// TestRefusals: a wrong proof and an unknown user fail alike, after a
// server-first message of the same shape; malformed messages fail as such.
func TestRefusals(t *testing.T) {
	cred, err := SHA512.NewCredential("secret", 4096)
	if err != nil {
		t.Fatal(err)
	}
	fake, _ := SHA512.NewCredential("unguessable", 4096)
	lookup := func(u string) (Credential, bool) {
		if u == "alice" {
			return cred, true
		}
		return fake, false
	}
	run := func(user, password string) error {
		s := NewServer(SHA512, lookup)
		first, _, err := s.Step([]byte("n,,n=" + user + ",r=abc"))
		if err != nil {
			return err
		}
		cf := clientFinal(t, SHA512, password, "n="+user+",r=abc", string(first))
		_, _, err = s.Step([]byte(cf))
		return err
	}
	if err := run("alice", "secret"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	for _, tc := range []struct{ user, password string }{{"alice", "wrong"}, {"mallory", "secret"}, {"mallory", "unguessable"}} {
		if err := run(tc.user, tc.password); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("%s/%s: %v, want ErrAuthFailed", tc.user, tc.password, err)
		}
	}
	for _, msg := range []string{"", "n", "n,,", "p=tls-unique,,n=a,r=b", "n,,m=x,n=a,r=b", "n,,n=a", "n,,n=a=,r=b", "n,,n=,r=b", "x,,n=a,r=b", "n,b,n=a,r=b"} {
		if _, _, err := NewServer(SHA512, lookup).Step([]byte(msg)); !errors.Is(err, ErrMalformed) {
			t.Errorf("client-first %q: %v, want ErrMalformed", msg, err)
		}
	}
	for _, msg := range []string{"", "c=biws,r=abc", "c=biws,r=abc,p=!!", "r=abc,p=AAAA", "c=biws,p=AAAA"} {
		s := NewServer(SHA512, lookup)
		s.Step([]byte("n,,n=alice,r=abc"))
		if _, _, err := s.Step([]byte(msg)); !errors.Is(err, ErrMalformed) {
			t.Errorf("client-final %q: %v, want ErrMalformed", msg, err)
		}
	}
}

// TestLibrdkafkaNonce: librdkafka sends its nonce, then server-first's
// whole nonce (which begins with its own); Kafka accepts that, and so
// must silt. A nonce that does not end with server-first's is refused.
func TestLibrdkafkaNonce(t *testing.T) {
	cred, _ := SHA256.NewCredential("pw", 4096)
	for _, tc := range []struct {
		prefix string
		tamper bool
		ok     bool
	}{{"", false, true}, {"abc", false, true}, {"", true, false}} {
		s := NewServer(SHA256, func(string) (Credential, bool) { return cred, true })
		first, _, _ := s.Step([]byte("n,,n=u,r=abc"))
		sf := string(first)
		if tc.tamper {
			sf = strings.Replace(sf, "r=abc", "r=abd", 1)
		}
		_, done, err := s.Step([]byte(clientFinalPrefixed(t, SHA256, "pw", "n=u,r=abc", sf, tc.prefix)))
		if tc.ok != (err == nil && done) {
			t.Errorf("prefix %q tamper %v: %v", tc.prefix, tc.tamper, err)
		}
	}
}

func TestParseClientFirst(t *testing.T) {
	for _, tc := range []struct {
		msg, user, authz, nonce, gs2 string
		ext                          map[string]string
	}{
		{msg: "n,,n=user,r=abc", user: "user", nonce: "abc", gs2: "n,,"},
		{msg: "y,a=admin,n=a=2Cb=3Dc,r=x,tokenauth=true", user: "a,b=c", authz: "admin", nonce: "x", gs2: "y,a=admin,", ext: map[string]string{"tokenauth": "true"}},
	} {
		cf, err := ParseClientFirst(tc.msg)
		if err != nil {
			t.Fatalf("%q: %v", tc.msg, err)
		}
		if cf.User != tc.user || cf.AuthzID != tc.authz || cf.Nonce != tc.nonce || cf.GS2Header != tc.gs2 || len(cf.Extensions) != len(tc.ext) {
			t.Errorf("%q: %+v", tc.msg, cf)
		}
		for k, v := range tc.ext {
			if cf.Extensions[k] != v {
				t.Errorf("%q: extension %s = %q, want %q", tc.msg, k, cf.Extensions[k], v)
			}
		}
	}
}

func TestCredentialLimits(t *testing.T) {
	if _, err := SHA256.NewCredential("x", 4095); err == nil {
		t.Error("4095 iterations accepted")
	}
	if _, err := SHA256.FromSalted(make([]byte, 31), []byte("s"), 4096); err == nil {
		t.Error("short salted password accepted")
	}
	if _, err := SHA256.FromSalted(make([]byte, 32), nil, 4096); err == nil {
		t.Error("empty salt accepted")
	}
}

// clientFinal computes a client's final message as RFC 5802 §3 says.
func clientFinal(t *testing.T, m Mechanism, password, firstBare, serverFirst string) string {
	return clientFinalPrefixed(t, m, password, firstBare, serverFirst, "")
}

// clientFinalPrefixed puts prefix before the nonce, as librdkafka does
// with its own nonce.
func clientFinalPrefixed(t *testing.T, m Mechanism, password, firstBare, serverFirst, prefix string) string {
	t.Helper()
	sf := map[string]string{}
	for _, a := range splitAttrs(serverFirst) {
		sf[a[:1]] = a[2:]
	}
	salt, _ := base64.StdEncoding.DecodeString(sf["s"])
	var iter int
	for _, c := range sf["i"] {
		iter = iter*10 + int(c-'0')
	}
	salted, err := m.SaltedPassword(password, salt, iter)
	if err != nil {
		t.Fatal(err)
	}
	clientKey := m.hmac(salted, []byte("Client Key"))
	h := m.Hash()
	h.Write(clientKey)
	without := "c=biws,r=" + prefix + sf["r"]
	sig := m.hmac(h.Sum(nil), []byte(firstBare+","+serverFirst+","+without))
	proof := make([]byte, len(sig))
	for i := range sig {
		proof[i] = clientKey[i] ^ sig[i]
	}
	return without + ",p=" + base64.StdEncoding.EncodeToString(proof)
}

func splitAttrs(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func FuzzParseClientFirst(f *testing.F) {
	for _, s := range []string{"n,,n=user,r=abc", "y,a=x,n=a=2C,r=b,ext=1", "p=x,,n=a,r=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		cf, err := ParseClientFirst(msg)
		if err == nil && (cf.User == "" || cf.Nonce == "") {
			t.Fatalf("%q parsed without a user or nonce: %+v", msg, cf)
		}
	})
}

func FuzzParseClientFinal(f *testing.F) {
	f.Add("c=biws,r=abc,p=AAAA")
	f.Add("c=biws,r=abc,ext=1,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	f.Fuzz(func(t *testing.T, msg string) {
		cf, err := ParseClientFinal(msg)
		if err == nil && len(cf.Proof) == 0 {
			t.Fatalf("%q parsed without a proof", msg)
		}
	})
}

// FuzzServer drives a whole exchange with arbitrary messages: it must
// never panic nor succeed without the password.
func FuzzServer(f *testing.F) {
	cred, _ := SHA256.NewCredential("pw", 4096)
	f.Add("n,,n=u,r=a", "c=biws,r=a,p=AAAA")
	f.Fuzz(func(t *testing.T, first, final string) {
		s := NewServer(SHA256, func(string) (Credential, bool) { return cred, true })
		if _, _, err := s.Step([]byte(first)); err != nil {
			return
		}
		if _, done, err := s.Step([]byte(final)); err == nil || done {
			t.Fatalf("exchange %q, %q succeeded", first, final)
		}
	})
}
