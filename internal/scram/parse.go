package scram

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// ClientFirst is a parsed client-first-message (RFC 5802 §7).
type ClientFirst struct {
	// GS2Header is "n,," or "y,," (with the authzid, if any): silt offers
	// no channel binding, so "p=" is refused.
	GS2Header string
	// AuthzID is the authorization identity, or "".
	AuthzID string
	// User is the decoded username.
	User string
	// Nonce is the client's nonce.
	Nonce string
	// Extensions are the attributes after the nonce (Kafka's
	// "tokenauth=true" is one), as key=value.
	Extensions map[string]string
	// Bare is client-first-message-bare, which the proofs sign.
	Bare string
}

// ParseClientFirst parses a client-first-message.
func ParseClientFirst(msg string) (ClientFirst, error) {
	var cf ClientFirst
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return cf, fmt.Errorf("%w: client-first message without a GS2 header", ErrMalformed)
	}
	switch {
	case flag == "n" || flag == "y":
	case strings.HasPrefix(flag, "p="):
		return cf, fmt.Errorf("%w: channel binding %q is not offered", ErrMalformed, flag[2:])
	default:
		return cf, fmt.Errorf("%w: GS2 flag %q", ErrMalformed, flag)
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return cf, fmt.Errorf("%w: GS2 header not closed", ErrMalformed)
	}
	if authz != "" {
		v, ok := strings.CutPrefix(authz, "a=")
		if !ok {
			return cf, fmt.Errorf("%w: authzid %q", ErrMalformed, authz)
		}
		var err error
		if cf.AuthzID, err = decodeName(v); err != nil {
			return cf, err
		}
	}
	cf.GS2Header = flag + "," + authz + ","
	cf.Bare = bare
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 {
		return cf, fmt.Errorf("%w: client-first message needs a username and a nonce", ErrMalformed)
	}
	if strings.HasPrefix(attrs[0], "m=") {
		return cf, fmt.Errorf("%w: mandatory extension %q is not supported", ErrMalformed, attrs[0])
	}
	u, ok := strings.CutPrefix(attrs[0], "n=")
	if !ok {
		return cf, fmt.Errorf("%w: %q where the username belongs", ErrMalformed, attrs[0])
	}
	var err error
	if cf.User, err = decodeName(u); err != nil {
		return cf, err
	}
	if cf.User == "" {
		return cf, fmt.Errorf("%w: empty username", ErrMalformed)
	}
	if cf.Nonce, ok = strings.CutPrefix(attrs[1], "r="); !ok || !printable(cf.Nonce) {
		return cf, fmt.Errorf("%w: %q where the nonce belongs", ErrMalformed, attrs[1])
	}
	for _, a := range attrs[2:] {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return cf, fmt.Errorf("%w: extension %q", ErrMalformed, a)
		}
		if cf.Extensions == nil {
			cf.Extensions = map[string]string{}
		}
		cf.Extensions[k] = v
	}
	return cf, nil
}

// ClientFinal is a parsed client-final-message.
type ClientFinal struct {
	// ChannelBinding is the c= attribute: base64 of the GS2 header.
	ChannelBinding string
	// Nonce is the combined nonce the client repeats.
	Nonce string
	// Proof is the decoded ClientProof.
	Proof []byte
	// WithoutProof is client-final-message-without-proof, which the
	// proofs sign.
	WithoutProof string
}

// ParseClientFinal parses a client-final-message.
func ParseClientFinal(msg string) (ClientFinal, error) {
	var cf ClientFinal
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return cf, fmt.Errorf("%w: client-final message without a proof", ErrMalformed)
	}
	cf.WithoutProof = msg[:i]
	proof, err := base64.StdEncoding.DecodeString(msg[i+3:])
	if err != nil || len(proof) == 0 {
		return cf, fmt.Errorf("%w: proof is not base64", ErrMalformed)
	}
	cf.Proof = proof
	attrs := strings.Split(cf.WithoutProof, ",")
	if len(attrs) < 2 {
		return cf, fmt.Errorf("%w: client-final message needs a channel binding and a nonce", ErrMalformed)
	}
	var ok bool
	if cf.ChannelBinding, ok = strings.CutPrefix(attrs[0], "c="); !ok {
		return cf, fmt.Errorf("%w: %q where the channel binding belongs", ErrMalformed, attrs[0])
	}
	if cf.Nonce, ok = strings.CutPrefix(attrs[1], "r="); !ok {
		return cf, fmt.Errorf("%w: %q where the nonce belongs", ErrMalformed, attrs[1])
	}
	return cf, nil
}

// decodeName undoes saslname's escapes: "=2C" is ',' and "=3D" is '='; any
// other '=' is an error.
func decodeName(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", fmt.Errorf("%w: bad escape in name %q", ErrMalformed, s)
		}
		i += 2
	}
	return b.String(), nil
}

// printable reports whether s is a valid nonce: printable ASCII but ','.
func printable(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ',' {
			return false
		}
	}
	return true
}
