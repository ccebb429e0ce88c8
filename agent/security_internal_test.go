package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"log/slog"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseListeners(t *testing.T) {
	for _, tc := range []struct {
		listen, advertise string
		want              []listenerSpec
		adv               map[string]string
		err               string
	}{
		{listen: "localhost:9092", want: []listenerSpec{{"PLAINTEXT", "localhost:9092"}}, adv: map[string]string{}},
		{listen: ":9092", advertise: "kafka.example:9092", want: []listenerSpec{{"PLAINTEXT", ":9092"}}, adv: map[string]string{"PLAINTEXT": "kafka.example:9092"}},
		{listen: "PLAINTEXT://:9092, sasl_ssl://0.0.0.0:9093", advertise: "SASL_SSL://k.example:443",
			want: []listenerSpec{{"PLAINTEXT", ":9092"}, {"SASL_SSL", "0.0.0.0:9093"}}, adv: map[string]string{"SASL_SSL": "k.example:443"}},
		{listen: "SSL://:9093,SSL://:9094", err: "two SSL listeners"},
		{listen: "HTTP://:80", err: "protocol \"HTTP\""},
		{listen: "PLAINTEXT://nohost", err: "missing port"},
		{listen: "PLAINTEXT://:99999", err: "port"},
		{listen: "", err: "empty"},
		{listen: "PLAINTEXT://:9092", advertise: "SSL://a:1", err: "no SSL listener"},
		{listen: "PLAINTEXT://:9092", advertise: "a:1,PLAINTEXT://b:2", err: "given twice"},
	} {
		specs, err := parseListeners(tc.listen)
		var adv map[string]string
		if err == nil {
			adv, err = advertisedFor(specs, tc.advertise)
		}
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q/%q: %v, want %q", tc.listen, tc.advertise, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(specs, tc.want) || !reflect.DeepEqual(adv, tc.adv) {
			t.Errorf("%q/%q: %v %v %v", tc.listen, tc.advertise, specs, adv, err)
		}
	}
}

func TestPrincipalMappingRules(t *testing.T) {
	const dn = "CN=Alice Smith,OU=Eng,O=Acme,C=US"
	for _, tc := range []struct{ rules, dn, want, err string }{
		{rules: "DEFAULT", dn: dn, want: dn},
		{rules: "RULE:^CN=(.*?),.*$/$1/", dn: dn, want: "Alice Smith"},
		{rules: "RULE:^CN=(.*?),.*$/$1/L,DEFAULT", dn: dn, want: "alice smith"},
		{rules: "RULE:^CN=(.*?),OU=(.*?),.*$/$1@$2/U", dn: dn, want: "ALICE SMITH@ENG"},
		{rules: "RULE:^CN=x,.*$/x/, RULE:^CN=(.*?),.*$/$1/", dn: dn, want: "Alice Smith"},
		{rules: "RULE:^OU=(.*)$/$1/, DEFAULT", dn: dn, want: dn},
		{rules: `RULE:^CN=([^,]*),.*$/svc\/$1/`, dn: dn, want: "svc/Alice Smith"},
		{rules: "RULE:^CN=x$/y/", dn: dn, want: dn}, // no rule matches
		{rules: "", err: "empty"},
		{rules: "RULE:abc", err: "closing"},
		{rules: "NOPE", err: "neither"},
		{rules: "RULE:(/x/", err: "pattern"},
	} {
		rules, err := parsePrincipalRules(tc.rules)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, want %q", tc.rules, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.rules, err)
		}
		if got := mapPrincipal(rules, tc.dn); got != tc.want {
			t.Errorf("%q on %q = %q, want %q", tc.rules, tc.dn, got, tc.want)
		}
	}
}

// TestCertificatePrincipal runs real TLS handshakes through secure: a
// client certificate gives User:<mapped DN>, none gives User:ANONYMOUS, and
// with certificates required none is refused.
func TestCertificatePrincipal(t *testing.T) {
	ca := NewTestCA(t)
	_, certFile, keyFile := ca.Issue(t, pkix.Name{CommonName: "localhost"}, true, "server")
	alice, _, _ := ca.Issue(t, pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"acme"}}, false, "alice")
	for _, tc := range []struct {
		auth, rules string
		certs       []tls.Certificate
		want        string // "" means refused
	}{
		{"requested", "DEFAULT", []tls.Certificate{alice}, "User:CN=alice,OU=eng,O=acme"},
		{"requested", "RULE:^CN=(.*?),.*$/$1/,DEFAULT", []tls.Certificate{alice}, "User:alice"},
		{"requested", "DEFAULT", nil, "User:ANONYMOUS"},
		{"required", "DEFAULT", nil, ""},
		{"none", "DEFAULT", []tls.Certificate{alice}, "User:ANONYMOUS"},
	} {
		cfg := DefaultSecurity()
		cfg.TLSCert, cfg.TLSKey, cfg.TLSClientCA, cfg.TLSClientAuth, cfg.PrincipalMappingRules = certFile, keyFile, ca.CAFile(), tc.auth, tc.rules
		sec, err := newSecurity(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		srvTLS, _ := sec.serverTLS(false)
		a := &Agent{security: sec}
		client, server := net.Pipe()
		go func() {
			c := tls.Client(client, ca.ClientTLS(tc.certs...))
			c.Handshake()
			c.Read(make([]byte, 1)) // TLS 1.3: the server's verdict arrives here
			c.Close()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		nc, principal, err := a.secure(ctx, server, &listener{name: protoSSL, tls: srvTLS})
		cancel()
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s without a certificate: accepted as %s", tc.auth, principal)
				nc.Close()
			}
			continue
		}
		if err != nil || principal != tc.want {
			t.Errorf("%s/%s: %q, %v; want %q", tc.auth, tc.rules, principal, err, tc.want)
		}
		if nc != nil {
			nc.Close()
		}
	}
}

// TestCertificateReload: a certificate replaced on disk is served at the
// next handshake; one that does not load leaves the old one in place.
func TestCertificateReload(t *testing.T) {
	ca := NewTestCA(t)
	first, certFile, keyFile := ca.Issue(t, pkix.Name{CommonName: "first"}, true, "server")
	r := &certReloader{certFile: certFile, keyFile: keyFile, every: 0, log: slog.New(slog.DiscardHandler)}
	if err := r.load(); err != nil {
		t.Fatal(err)
	}
	leaf := func() string {
		c, err := r.get(nil)
		if err != nil {
			t.Fatal(err)
		}
		return string(c.Certificate[0])
	}
	if leaf() != string(first.Certificate[0]) {
		t.Fatal("not serving the first certificate")
	}
	// Files written in the same clock tick keep their stamp only if the
	// size matches too; push the mtime on to be sure.
	later := time.Now().Add(2 * time.Second)
	second, _, _ := ca.Issue(t, pkix.Name{CommonName: "second"}, true, "server")
	os.Chtimes(certFile, later, later)
	if leaf() != string(second.Certificate[0]) {
		t.Fatal("the rotated certificate is not served")
	}
	os.WriteFile(keyFile, []byte("garbage"), 0o600)
	os.Chtimes(keyFile, later.Add(time.Second), later.Add(time.Second))
	if leaf() != string(second.Certificate[0]) {
		t.Fatal("a broken key file replaced the certificate served")
	}
}

func TestParseOAuthBearer(t *testing.T) {
	for _, tc := range []struct{ msg, token string }{
		{"n,,\x01auth=Bearer abc.def.ghi\x01\x01", "abc.def.ghi"},
		{"n,a=carol,\x01host=x\x01auth=bearer t\x01port=1\x01\x01", "t"},
		{"y,,\x01auth=Bearer t\x01\x01", "t"},
		{"n,,\x01auth=Basic t\x01\x01", ""},
		{"n,,\x01auth=Bearer t\x01", ""}, // not terminated
		{"n,,\x01\x01", ""},
		{"p=x,,\x01auth=Bearer t\x01\x01", ""},
		{"", ""},
	} {
		got, err := parseOAuthBearer([]byte(tc.msg))
		if got != tc.token || (tc.token == "") != (err != nil) {
			t.Errorf("%q: %q, %v; want %q", tc.msg, got, err, tc.token)
		}
	}
}

func FuzzParseOAuthBearer(f *testing.F) {
	f.Add([]byte("n,,\x01auth=Bearer abc.def.ghi\x01\x01"))
	f.Add([]byte("n,a=x,\x01a=b\x01auth=Bearer t\x01\x01"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		if tok, err := parseOAuthBearer(msg); err == nil && tok == "" {
			t.Fatalf("%q: no token and no error", msg)
		}
	})
}
