package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Listeners, as Kafka has them.
//
// An agent listens on one or more addresses, each with a security
// protocol: PLAINTEXT (nothing), SSL (TLS, optionally with client
// certificates), SASL_PLAINTEXT (SASL authentication) and SASL_SSL (both).
// Kafka names a listener separately from its protocol; silt names it by its
// protocol, so an agent has at most one listener of each. Every agent
// gossips the address it advertises on each of its listeners
// (gossip.Member.Listeners), and Metadata, FindCoordinator and
// DescribeCluster answer a client with the addresses of the listener it
// connected to, as Kafka does: a client that came in over SASL_SSL is
// never sent to a PLAINTEXT port.

// The security protocols, Kafka's names.
const (
	protoPlaintext     = "PLAINTEXT"
	protoSSL           = "SSL"
	protoSASLPlaintext = "SASL_PLAINTEXT"
	protoSASLSSL       = "SASL_SSL"
)

// listenerSpec is one entry of Config.Listen.
type listenerSpec struct {
	name string // the protocol, which names the listener
	addr string // host:port to bind
}

// usesTLS reports whether the protocol runs over TLS.
func usesTLS(protocol string) bool { return protocol == protoSSL || protocol == protoSASLSSL }

// usesSASL reports whether the protocol authenticates with SASL.
func usesSASL(protocol string) bool {
	return protocol == protoSASLPlaintext || protocol == protoSASLSSL
}

// parseEndpoint splits "PROTOCOL://host:port" (or a bare "host:port",
// PLAINTEXT) and checks both parts.
func parseEndpoint(s string) (listenerSpec, error) {
	s = strings.TrimSpace(s)
	name, addr, ok := strings.Cut(s, "://")
	if !ok {
		name, addr = protoPlaintext, s
	}
	name = strings.ToUpper(name)
	switch name {
	case protoPlaintext, protoSSL, protoSASLPlaintext, protoSASLSSL:
	default:
		return listenerSpec{}, fmt.Errorf("listener %q: protocol %q is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", s, name)
	}
	if _, port, err := net.SplitHostPort(addr); err != nil {
		return listenerSpec{}, fmt.Errorf("listener %q: %w", s, err)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return listenerSpec{}, fmt.Errorf("listener %q: port %q: %w", s, port, err)
	}
	return listenerSpec{name: name, addr: addr}, nil
}

// parseListeners parses Config.Listen: a comma list of endpoints, each
// protocol at most once.
func parseListeners(s string) ([]listenerSpec, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("listen address is empty")
	}
	var specs []listenerSpec
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		sp, err := parseEndpoint(part)
		if err != nil {
			return nil, err
		}
		if seen[sp.name] {
			return nil, fmt.Errorf("listen %q: two %s listeners (one of each protocol)", s, sp.name)
		}
		seen[sp.name] = true
		specs = append(specs, sp)
	}
	return specs, nil
}

// advertisedFor parses Config.Advertise against the listeners: a map from
// listener name to the host:port to advertise. A bare host:port is the
// first listener's; an endpoint naming no listener is an error.
func advertisedFor(specs []listenerSpec, s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		bare := !strings.Contains(part, "://")
		sp, err := parseEndpoint(part)
		if err != nil {
			return nil, fmt.Errorf("advertise: %w", err)
		}
		if bare {
			sp.name = specs[0].name
		}
		found := false
		for _, l := range specs {
			found = found || l.name == sp.name
		}
		if !found {
			return nil, fmt.Errorf("advertise %q: no %s listener in --listen", part, sp.name)
		}
		if _, dup := out[sp.name]; dup {
			return nil, fmt.Errorf("advertise %q: %s given twice", s, sp.name)
		}
		out[sp.name] = sp.addr
	}
	return out, nil
}

// listener is one bound Kafka listener.
type listener struct {
	name       string // its protocol
	ln         net.Listener
	advertised string      // host:port clients are given
	tls        *tls.Config // SSL and SASL_SSL
	sasl       bool        // SASL_PLAINTEXT and SASL_SSL
}

// openListeners binds every listener of the configuration and works out
// what each advertises. On error, what was bound is closed.
func (a *Agent) openListeners() error {
	specs, err := parseListeners(a.cfg.Listen)
	if err != nil {
		return err
	}
	adv, err := advertisedFor(specs, a.cfg.Advertise)
	if err != nil {
		return err
	}
	for _, sp := range specs {
		l := &listener{name: sp.name, sasl: usesSASL(sp.name)}
		if usesTLS(sp.name) {
			if l.tls, err = a.security.serverTLS(l.sasl); err != nil {
				a.closeListeners()
				return err
			}
		}
		if l.ln, err = net.Listen("tcp", sp.addr); err != nil {
			a.closeListeners()
			return fmt.Errorf("kafka listener %s://%s: %w", sp.name, sp.addr, err)
		}
		if l.advertised, err = advertiseAddr(sp.addr, l.ln.Addr().String(), adv[sp.name]); err != nil {
			l.ln.Close()
			a.closeListeners()
			return err
		}
		a.listeners = append(a.listeners, l)
	}
	first := a.listeners[0]
	a.listener = first.ln
	host, port, _ := net.SplitHostPort(first.advertised)
	p, _ := strconv.ParseUint(port, 10, 16)
	a.advertiseHost, a.advertisePort = host, int32(p)
	return nil
}

// advertiseAddr is what a listener bound at listen (actually at bound)
// advertises: adv if given, else the listen host with the bound port; a
// wildcard host advertises localhost.
func advertiseAddr(listen, bound, adv string) (string, error) {
	if adv == "" {
		adv = bound
		if host, _, err := net.SplitHostPort(listen); err == nil && host != "" {
			_, port, _ := net.SplitHostPort(bound)
			adv = net.JoinHostPort(host, port)
		}
	}
	host, port, err := net.SplitHostPort(adv)
	if err != nil {
		return "", fmt.Errorf("advertise address %q: %w", adv, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("advertise port %q: %w", port, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port), nil
}

// closeListeners closes every bound listener; accept loops then end.
func (a *Agent) closeListeners() {
	for _, l := range a.listeners {
		if l.ln != nil {
			l.ln.Close()
		}
	}
}

// advertisedListeners maps each listener's name to its advertised
// address, for gossip.
func (a *Agent) advertisedListeners() map[string]string {
	out := make(map[string]string, len(a.listeners))
	for _, l := range a.listeners {
		out[l.name] = l.advertised
	}
	return out
}

// ListenerAddr returns the address the named listener (PLAINTEXT, SSL,
// SASL_PLAINTEXT, SASL_SSL) is bound to, or "" if the agent has none.
func (a *Agent) ListenerAddr(name string) string {
	for _, l := range a.listeners {
		if l.name == name {
			return l.ln.Addr().String()
		}
	}
	return ""
}

// acceptLoop accepts the connections of one listener until it closes.
func (a *Agent) acceptLoop(l *listener) {
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				a.log.Error("kafka listener failed", "listener", l.name, "err", err)
			}
			return
		}
		a.wg.Go(func() { a.serveConn(a.ctx, nc, l) })
	}
}

// tlsHandshakeTimeout bounds a client's TLS handshake: a client that
// connects and sends nothing holds a goroutine no longer than this.
const tlsHandshakeTimeout = 10 * time.Second

// secure runs the listener's TLS handshake on a new connection, if it has
// one, and returns the connection to use and the principal a client
// certificate gives (or anonymousPrincipal).
func (a *Agent) secure(ctx context.Context, nc net.Conn, l *listener) (net.Conn, string, error) {
	if l == nil || l.tls == nil {
		return nc, anonymousPrincipal, nil
	}
	// On SASL_SSL the principal is SASL's; no certificate is asked for.
	tc := tls.Server(nc, l.tls)
	hctx, cancel := context.WithTimeout(ctx, tlsHandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		tc.Close()
		return nil, "", fmt.Errorf("tls handshake on %s: %w", l.name, err)
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return tc, anonymousPrincipal, nil
	}
	return tc, a.security.certPrincipal(certs[0]), nil
}

// listenerName returns the name of the listener the connection came in on,
// or "" for a connection made inside the agent (the console).
func (c *conn) listenerName() string {
	if c.listener == nil {
		return ""
	}
	return c.listener.name
}
