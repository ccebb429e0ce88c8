package agent

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"
)

// Security is the configuration of the listeners' TLS and SASL. It matters
// only to listeners whose protocol uses them (listener.go).
type Security struct {
	// TLSCert and TLSKey are PEM files of the certificate (with its chain)
	// and key the SSL and SASL_SSL listeners present. They are read again
	// when either file changes (checked at most once a second, at a
	// handshake), so a rotated certificate (cert-manager) needs no restart.
	TLSCert, TLSKey string
	// TLSClientCA is a PEM file of the CAs that sign client certificates.
	TLSClientCA string
	// TLSClientAuth is Kafka's ssl.client.auth: "none" (default),
	// "requested" (a certificate, if sent, must verify) or "required".
	TLSClientAuth string
	// PrincipalMappingRules is Kafka's ssl.principal.mapping.rules: how a
	// client certificate's subject DN becomes a principal's name, e.g.
	// "RULE:^CN=(.*?),.*$/$1/,DEFAULT". Default "DEFAULT" (the whole DN).
	PrincipalMappingRules string
	// SASLMechanisms are the mechanisms SASL listeners offer. Default
	// PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512; OAUTHBEARER is offered when
	// OAuthJWKSFile is set.
	SASLMechanisms []string
	// OAuthJWKSFile is a JWKS (RFC 7517) file of the keys that sign the
	// OAUTHBEARER tokens accepted (RS256, ES256). OAuthIssuer and
	// OAuthAudience, when set, must be the token's iss and among its aud.
	OAuthJWKSFile, OAuthIssuer, OAuthAudience string
	// MaxReauth is Kafka's connections.max.reauth.ms: the longest a SASL
	// session lasts before the client must authenticate again (KIP-368);
	// 0 leaves sessions unbounded except by a token's expiry. Default 0.
	MaxReauth time.Duration
	// FailedAuthDelay is how long a failed authentication waits before it
	// is answered (Kafka's connection.failed.authentication.delay.ms), to
	// slow password guessing. Default 100ms.
	FailedAuthDelay time.Duration
}

// The SASL mechanisms silt serves.
const (
	mechPlain       = "PLAIN"
	mechSCRAM256    = "SCRAM-SHA-256"
	mechSCRAM512    = "SCRAM-SHA-512"
	mechOAuthBearer = "OAUTHBEARER"
)

// DefaultSecurity is the security configuration with every default.
func DefaultSecurity() Security {
	return Security{
		TLSClientAuth:         "none",
		PrincipalMappingRules: "DEFAULT",
		SASLMechanisms:        []string{mechPlain, mechSCRAM256, mechSCRAM512},
		FailedAuthDelay:       100 * time.Millisecond,
	}
}

// validate checks the configuration against the listeners that need it.
// It reads no file.
func (s *Security) validate(specs []listenerSpec) error {
	needTLS := slices.ContainsFunc(specs, func(l listenerSpec) bool { return usesTLS(l.name) })
	switch {
	case needTLS && (s.TLSCert == "" || s.TLSKey == ""):
		return errors.New("an SSL or SASL_SSL listener needs --tls-cert and --tls-key")
	case (s.TLSCert == "") != (s.TLSKey == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case s.MaxReauth < 0 || s.FailedAuthDelay < 0:
		return errors.New("reauthentication and failed-authentication delays must not be negative")
	}
	if _, err := clientAuthType(s.TLSClientAuth); err != nil {
		return err
	}
	if s.TLSClientAuth != "" && s.TLSClientAuth != "none" && s.TLSClientCA == "" {
		return fmt.Errorf("--tls-client-auth %s needs --tls-client-ca", s.TLSClientAuth)
	}
	if _, err := parsePrincipalRules(s.PrincipalMappingRules); err != nil {
		return err
	}
	for _, m := range s.SASLMechanisms {
		switch m {
		case mechPlain, mechSCRAM256, mechSCRAM512:
		case mechOAuthBearer:
			if s.OAuthJWKSFile == "" {
				return errors.New("SASL mechanism OAUTHBEARER needs --oauth-jwks-file")
			}
		default:
			return fmt.Errorf("SASL mechanism %q: silt serves PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER", m)
		}
	}
	return nil
}

// clientAuthType turns ssl.client.auth's value into crypto/tls's.
func clientAuthType(s string) (tls.ClientAuthType, error) {
	switch s {
	case "", "none":
		return tls.NoClientCert, nil
	case "requested":
		return tls.VerifyClientCertIfGiven, nil
	case "required":
		return tls.RequireAndVerifyClientCert, nil
	}
	return 0, fmt.Errorf("--tls-client-auth %q: want none, requested or required", s)
}

// security is the running form of Security: the certificate reloader,
// the client CAs, the principal rules, the token verifier.
type security struct {
	cfg        Security
	certs      *certReloader
	clientCAs  *x509.CertPool
	clientAuth tls.ClientAuthType
	rules      []principalRule
	mechs      []string
	oauth      *oauthVerifier
}

// newSecurity reads the files the configuration names.
func newSecurity(cfg Security, log *slog.Logger) (*security, error) {
	s := &security{cfg: cfg}
	var err error
	if s.rules, err = parsePrincipalRules(cfg.PrincipalMappingRules); err != nil {
		return nil, err
	}
	s.clientAuth, _ = clientAuthType(cfg.TLSClientAuth)
	if cfg.TLSCert != "" {
		s.certs = &certReloader{certFile: cfg.TLSCert, keyFile: cfg.TLSKey, every: time.Second, log: log}
		if err := s.certs.load(); err != nil {
			return nil, err
		}
	}
	if cfg.TLSClientCA != "" {
		pem, err := os.ReadFile(cfg.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		s.clientCAs = x509.NewCertPool()
		if !s.clientCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-client-ca %s: no PEM certificate in it", cfg.TLSClientCA)
		}
	}
	s.mechs = slices.Clone(cfg.SASLMechanisms)
	if cfg.OAuthJWKSFile != "" {
		if s.oauth, err = newOAuthVerifier(cfg, log); err != nil {
			return nil, err
		}
		if !slices.Contains(s.mechs, mechOAuthBearer) {
			s.mechs = append(s.mechs, mechOAuthBearer)
		}
	}
	return s, nil
}

// serverTLS is the TLS configuration of SSL and SASL_SSL listeners: TLS
// 1.2 and later, the reloaded certificate, and on SSL listeners client
// certificates as configured. A SASL_SSL listener asks for none: its
// clients authenticate with SASL, and Kafka applies ssl.client.auth to
// SASL_SSL only when it is set for that listener by name (KIP-684).
func (s *security) serverTLS(sasl bool) (*tls.Config, error) {
	if s.certs == nil {
		return nil, errors.New("an SSL or SASL_SSL listener needs --tls-cert and --tls-key")
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: s.certs.get,
		ClientCAs:      s.clientCAs,
		ClientAuth:     s.clientAuth,
	}
	if sasl {
		cfg.ClientAuth = tls.NoClientCert
	}
	return cfg, nil
}

// certReloader serves a certificate and key read from files, reading them
// again when either file's size or modification time changes.
type certReloader struct {
	certFile, keyFile string
	every             time.Duration // least time between two checks
	log               *slog.Logger

	mu      sync.Mutex // guards the fields below
	cert    *tls.Certificate
	stamp   [2]fileStamp
	checked time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.ModTime(), fi.Size()}, nil
}

// load reads the pair now; on error the certificate served stays.
func (r *certReloader) load() error {
	cs, err1 := stampOf(r.certFile)
	ks, err2 := stampOf(r.keyFile)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("tls certificate: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls certificate %s, key %s: %w", r.certFile, r.keyFile, err)
	}
	r.mu.Lock()
	r.cert, r.stamp, r.checked = &cert, [2]fileStamp{cs, ks}, time.Now()
	r.mu.Unlock()
	return nil
}

// get is tls.Config.GetCertificate: the current certificate, reloaded
// first if the files changed. A pair that fails to load (a rotation caught
// half written) is logged and the previous certificate served.
func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	due := time.Since(r.checked) >= r.every
	if due {
		r.checked = time.Now()
	}
	stamp, cert := r.stamp, r.cert
	r.mu.Unlock()
	if !due {
		return cert, nil
	}
	cs, err1 := stampOf(r.certFile)
	ks, err2 := stampOf(r.keyFile)
	if err1 != nil || err2 != nil || (cs == stamp[0] && ks == stamp[1]) {
		return cert, nil
	}
	if err := r.load(); err != nil {
		r.log.Warn("tls certificate changed but does not load; serving the previous one", "err", err)
		return cert, nil
	}
	r.log.Info("tls certificate reloaded", "cert", r.certFile)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cert, nil
}
