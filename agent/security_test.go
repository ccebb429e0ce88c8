package agent_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/silt-io/silt/agent"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// secureAgent is an agent with every kind of listener, a CA that signed
// its certificate, and token signing keys whose JWKS it trusts.
type secureAgent struct {
	a      *agent.Agent
	ca     *agent.TestCA
	rsaKey *rsa.PrivateKey
	ecKey  *ecdsa.PrivateKey
	cl     *kgo.Client  // over PLAINTEXT
	admin  *kadm.Client // of cl
}

const (
	testIssuer   = "https://issuer.test"
	testAudience = "silt"
)

func startSecureAgent(t *testing.T, configure func(*agent.Config)) *secureAgent {
	t.Helper()
	ca := agent.NewTestCA(t)
	_, certFile, keyFile := ca.Issue(t, pkix.Name{CommonName: "localhost"}, true, "server")
	s := &secureAgent{ca: ca}
	var err error
	if s.rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if s.ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	jwks := filepath.Join(ca.Dir, "jwks.json")
	if err := os.WriteFile(jwks, s.jwks(), 0o600); err != nil {
		t.Fatal(err)
	}
	c := localstacktest.StartT(t, localstack.Options{Configure: func(_ int, cfg *agent.Config) {
		cfg.Listen = "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0"
		cfg.Security.TLSCert, cfg.Security.TLSKey = certFile, keyFile
		cfg.Security.TLSClientCA, cfg.Security.TLSClientAuth = ca.CAFile(), "requested"
		cfg.Security.OAuthJWKSFile, cfg.Security.OAuthIssuer, cfg.Security.OAuthAudience = jwks, testIssuer, testAudience
		if configure != nil {
			configure(cfg)
		}
	}})
	s.a = c.Agents[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.a.ListenerAddr("PLAINTEXT")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	s.cl, s.admin = cl, kadm.NewClient(cl)
	return s
}

func (s *secureAgent) jwks() []byte {
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	doc := map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "rsa1", "use": "sig", "alg": "RS256", "n": b64(s.rsaKey.N.Bytes()), "e": b64(big.NewInt(int64(s.rsaKey.E)).Bytes())},
		{"kty": "EC", "kid": "ec1", "crv": "P-256", "x": b64(s.ecKey.X.FillBytes(make([]byte, 32))), "y": b64(s.ecKey.Y.FillBytes(make([]byte, 32)))},
	}}
	b, _ := json.Marshal(doc)
	return b
}

// token signs a JWT with the RSA (alg RS256) or EC (ES256) key.
func (s *secureAgent) token(t *testing.T, alg string, claims map[string]any) string {
	t.Helper()
	kid := map[string]string{"RS256": "rsa1", "ES256": "ec1"}[alg]
	h, _ := json.Marshal(map[string]string{"alg": alg, "kid": kid, "typ": "JWT"})
	p, _ := json.Marshal(claims)
	signed := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	digest := sha256.Sum256([]byte(signed))
	var sig []byte
	var err error
	switch alg {
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.rsaKey, crypto.SHA256, digest[:])
	case "ES256":
		var r, ss *big.Int
		r, ss, err = ecdsa.Sign(rand.Reader, s.ecKey, digest[:])
		sig = append(r.FillBytes(make([]byte, 32)), ss.FillBytes(make([]byte, 32))...)
	}
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func (s *secureAgent) claims(sub string, ttl time.Duration) map[string]any {
	return map[string]any{"iss": testIssuer, "aud": []string{"other", testAudience}, "sub": sub,
		"exp": time.Now().Add(ttl).Unix(), "iat": time.Now().Unix()}
}

// addUser stores a SCRAM credential through AlterUserScramCredentials, as
// kafka-configs.sh does.
func (s *secureAgent) addUser(t *testing.T, ctx context.Context, user, password string, mech kadm.ScramMechanism) {
	t.Helper()
	res, err := s.admin.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: user, Mechanism: mech, Iterations: 4096, Password: password}})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Error(); err != nil {
		t.Fatal(err)
	}
}

// roundTrip produces a record and reads it back with the client options.
func roundTrip(t *testing.T, ctx context.Context, topic string, opts ...kgo.Opt) error {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation(),
		kgo.ConsumeTopics(topic), kgo.RequestRetries(2), kgo.RetryTimeout(5 * time.Second)}, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("secret " + topic)}).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	for {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		if recs := fs.Records(); len(recs) > 0 {
			if string(recs[0].Value) != "secret "+topic {
				return fmt.Errorf("read %q", recs[0].Value)
			}
			return nil
		}
	}
}

// TestSASLMechanismsOverTLS: each mechanism franz-go has, over SASL_SSL
// and SASL_PLAINTEXT, produces and consumes; the client follows the
// addresses Metadata gives, so this also shows each listener advertises
// its own.
func TestSASLMechanismsOverTLS(t *testing.T) {
	s := startSecureAgent(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s.addUser(t, ctx, "alice", "alice-secret", kadm.ScramSha512)
	s.addUser(t, ctx, "bob", "bob-secret", kadm.ScramSha256)
	tok := func(alg string) sasl.Mechanism {
		return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
			return oauth.Auth{Token: s.token(t, alg, s.claims("carol", time.Hour))}, nil
		})
	}
	mechs := []struct {
		name string
		m    sasl.Mechanism
	}{
		{"PLAIN with a SCRAM-SHA-512 credential", plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()},
		{"PLAIN with a SCRAM-SHA-256 credential", plain.Auth{User: "bob", Pass: "bob-secret"}.AsMechanism()},
		{"SCRAM-SHA-512", scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism()},
		{"SCRAM-SHA-256", scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha256Mechanism()},
		{"OAUTHBEARER RS256", tok("RS256")},
		{"OAUTHBEARER ES256", tok("ES256")},
	}
	for i, m := range mechs {
		for _, listener := range []string{"SASL_SSL", "SASL_PLAINTEXT"} {
			t.Run(m.name+" over "+listener, func(t *testing.T) {
				opts := []kgo.Opt{kgo.SeedBrokers(s.a.ListenerAddr(listener)), kgo.SASL(m.m)}
				if listener == "SASL_SSL" {
					opts = append(opts, kgo.DialTLSConfig(s.ca.ClientTLS()))
				}
				if err := roundTrip(t, ctx, "sasl-"+strconv.Itoa(i)+"-"+listener, opts...); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	t.Run("Metadata answers the listener's addresses", func(t *testing.T) {
		for _, l := range []string{"PLAINTEXT", "SSL", "SASL_SSL"} {
			opts := []kgo.Opt{kgo.SeedBrokers(s.a.ListenerAddr(l))}
			switch l {
			case "SSL":
				opts = append(opts, kgo.DialTLSConfig(s.ca.ClientTLS()))
			case "SASL_SSL":
				opts = append(opts, kgo.DialTLSConfig(s.ca.ClientTLS()), kgo.SASL(mechs[2].m))
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				t.Fatal(err)
			}
			m, err := kadm.NewClient(cl).BrokerMetadata(ctx)
			cl.Close()
			if err != nil {
				t.Fatal(err)
			}
			_, port, _ := net.SplitHostPort(s.a.ListenerAddr(l))
			if len(m.Brokers) != 1 || strconv.Itoa(int(m.Brokers[0].Port)) != port {
				t.Errorf("%s: brokers %+v, want port %s", l, m.Brokers, port)
			}
		}
	})
}

// TestSCRAMCredentialAdmin: AlterUserScramCredentials and
// DescribeUserScramCredentials as kafka-configs.sh uses them.
func TestSCRAMCredentialAdmin(t *testing.T) {
	s := startSecureAgent(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.addUser(t, ctx, "alice", "pw", kadm.ScramSha512)
	s.addUser(t, ctx, "alice", "pw", kadm.ScramSha256)
	d, err := s.admin.DescribeUserSCRAMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a := d["alice"]; a.Err != nil || len(a.CredInfos) != 2 || a.CredInfos[0].Iterations != 4096 {
		t.Fatalf("describe alice: %+v", a)
	}
	d, err = s.admin.DescribeUserSCRAMs(ctx, "nobody")
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(d["nobody"].Err, kerr.ResourceNotFound) {
		t.Errorf("describe nobody: %v, want RESOURCE_NOT_FOUND", d["nobody"].Err)
	}
	for _, tc := range []struct {
		name   string
		del    []kadm.DeleteSCRAM
		upsert []kadm.UpsertSCRAM
		want   error
	}{
		{"a user twice", []kadm.DeleteSCRAM{{User: "alice", Mechanism: kadm.ScramSha256}}, []kadm.UpsertSCRAM{{User: "alice", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "p"}}, kerr.DuplicateResource},
		{"delete what is not there", []kadm.DeleteSCRAM{{User: "nobody", Mechanism: kadm.ScramSha256}}, nil, kerr.ResourceNotFound},
		{"delete", []kadm.DeleteSCRAM{{User: "alice", Mechanism: kadm.ScramSha256}}, nil, nil},
	} {
		res, err := s.admin.AlterUserSCRAMs(ctx, tc.del, tc.upsert)
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Error(); !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// kadm refuses too few iterations itself; the broker must too.
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	up := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
	up.Name, up.Mechanism, up.Iterations, up.Salt, up.SaltedPassword = "x", 1, 1000, []byte("salt"), make([]byte, 32)
	req.Upsertions = append(req.Upsertions, up)
	resp, err := req.RequestWith(ctx, s.cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 1 || resp.Results[0].ErrorCode != kerr.UnacceptableCredential.Code {
		t.Errorf("1000 iterations: %+v, want UNACCEPTABLE_CREDENTIAL", resp.Results)
	}
	d, _ = s.admin.DescribeUserSCRAMs(ctx, "alice")
	if a := d["alice"]; len(a.CredInfos) != 1 || a.CredInfos[0].Mechanism != kadm.ScramSha512 {
		t.Errorf("after deleting SHA-256: %+v", a)
	}
}

// TestListenersAcrossAgents: every agent gossips each listener's address,
// so a client on one agent's SASL_SSL listener is given every agent's
// SASL_SSL address, and one on PLAINTEXT every PLAINTEXT address.
func TestListenersAcrossAgents(t *testing.T) {
	ca := agent.NewTestCA(t)
	_, certFile, keyFile := ca.Issue(t, pkix.Name{CommonName: "localhost"}, true, "server")
	c := localstacktest.StartT(t, localstack.Options{Agents: 2, Configure: func(_ int, cfg *agent.Config) {
		cfg.Listen = "PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0"
		cfg.Security.TLSCert, cfg.Security.TLSKey = certFile, keyFile
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Gossip converges a moment after the agents start, more so under load.
	for _, a := range c.Agents {
		for len(a.Members()) != 2 {
			if ctx.Err() != nil {
				t.Fatalf("%s sees %d members", a.NodeName(), len(a.Members()))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	want := func(listener string) map[string]bool {
		ports := map[string]bool{}
		for _, a := range c.Agents {
			_, p, _ := net.SplitHostPort(a.ListenerAddr(listener))
			ports[p] = true
		}
		return ports
	}
	res, err := kadm.NewClient(mustClient(t, kgo.SeedBrokers(c.Agents[0].ListenerAddr("PLAINTEXT")))).
		AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "u", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "p"}})
	if err != nil || res.Error() != nil {
		t.Fatal(err, res.Error())
	}
	// Credentials reach the other agents as the journal does (pushed, or
	// read within a second), as Kafka's reach its brokers.
	for c.Agents[1].Journal().Seq() < c.Agents[0].Journal().Seq() {
		if ctx.Err() != nil {
			t.Fatal("agent 1 never applied the credential")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, l := range []string{"PLAINTEXT", "SASL_SSL"} {
		opts := []kgo.Opt{kgo.SeedBrokers(c.Agents[1].ListenerAddr(l))}
		if l == "SASL_SSL" {
			opts = append(opts, kgo.DialTLSConfig(ca.ClientTLS()), kgo.SASL(scram.Auth{User: "u", Pass: "p"}.AsSha256Mechanism()))
		}
		m, err := kadm.NewClient(mustClient(t, opts...)).BrokerMetadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, b := range m.Brokers {
			got[strconv.Itoa(int(b.Port))] = true
		}
		if w := want(l); len(got) != 2 || !maps.Equal(got, w) {
			t.Errorf("%s: brokers at ports %v, want %v", l, got, w)
		}
	}
}

func mustClient(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestUserQuotaFollowsThePrincipal: a user quota (kafka-configs
// --entity-type users) applies to the connections that authenticated as
// that user, and not to anonymous ones.
func TestUserQuotaFollowsThePrincipal(t *testing.T) {
	s := startSecureAgent(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s.addUser(t, ctx, "alice", "alice-secret", kadm.ScramSha512)
	res, err := s.admin.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "user", Name: kadm.StringPtr("alice")}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 10240}},
	}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	if _, err := s.admin.CreateTopic(ctx, 1, 1, nil, "user-quota"); err != nil {
		t.Fatal(err)
	}
	value := make([]byte, 10240)
	rand.Read(value) // quotas count the bytes on the wire: nothing to compress
	throttled := func(opts ...kgo.Opt) time.Duration {
		var mu sync.Mutex
		var most time.Duration
		cl := mustClient(t, append(opts, kgo.ProducerLinger(0),
			kgo.WithHooks(throttleHook(func(d time.Duration) { mu.Lock(); most = max(most, d); mu.Unlock() })))...)
		for range 13 {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "user-quota", Value: value}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		cl.Close()
		mu.Lock()
		defer mu.Unlock()
		return most
	}
	if d := throttled(kgo.SeedBrokers(s.a.ListenerAddr("PLAINTEXT"))); d != 0 {
		t.Errorf("an anonymous producer was throttled %v under alice's quota", d)
	}
	if d := throttled(kgo.SeedBrokers(s.a.ListenerAddr("SASL_PLAINTEXT")),
		kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism())); d < 500*time.Millisecond {
		t.Errorf("alice over her quota was throttled at most %v", d)
	}
}

// throttleHook calls its function with every throttle time a broker gives.
type throttleHook func(time.Duration)

func (h throttleHook) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) { h(d) }
