package agent

import (
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Principals from client certificates, as Kafka makes them.
//
// Kafka names an mTLS client User:<subject DN>, the DN in RFC 2253 form
// ("CN=alice,OU=eng,O=acme"), after applying ssl.principal.mapping.rules:
// a list of RULE:pattern/replacement/[LU] entries and DEFAULT, tried in
// order; the first whose pattern matches the whole DN gives the name
// (replacement with $1… for the pattern's groups, then lower- or
// upper-cased on L or U), and DEFAULT gives the DN as it is.

// principalRule is one mapping rule; a nil re is DEFAULT.
type principalRule struct {
	re          *regexp.Regexp
	replacement string
	fold        byte // 'L', 'U' or 0
}

// parsePrincipalRules parses a rules list. Rules are separated by commas
// or white space; a pattern or replacement escapes '/' (and '\') with '\'.
func parsePrincipalRules(s string) ([]principalRule, error) {
	var rules []principalRule
	rest := s
	for {
		rest = strings.TrimLeft(rest, ", \t\n")
		if rest == "" {
			break
		}
		if r, ok := strings.CutPrefix(rest, "DEFAULT"); ok {
			rules = append(rules, principalRule{})
			rest = r
			continue
		}
		r, ok := strings.CutPrefix(rest, "RULE:")
		if !ok {
			return nil, fmt.Errorf("principal mapping rules %q: %q is neither RULE:pattern/replacement/ nor DEFAULT", s, rest)
		}
		pattern, r, err := cutUnescaped(r)
		if err != nil {
			return nil, fmt.Errorf("principal mapping rules %q: %w", s, err)
		}
		repl, r, err := cutUnescaped(r)
		if err != nil {
			return nil, fmt.Errorf("principal mapping rules %q: %w", s, err)
		}
		rule := principalRule{replacement: repl}
		if r != "" && (r[0] == 'L' || r[0] == 'U') {
			rule.fold, r = r[0], r[1:]
		}
		if r != "" && r[0] != ',' && r[0] != ' ' {
			return nil, fmt.Errorf("principal mapping rules %q: unexpected %q after a rule", s, r)
		}
		if rule.re, err = regexp.Compile("^(?:" + pattern + ")$"); err != nil {
			return nil, fmt.Errorf("principal mapping rule pattern %q: %w", pattern, err)
		}
		rules = append(rules, rule)
		rest = r
	}
	if len(rules) == 0 {
		return nil, errors.New("principal mapping rules are empty (DEFAULT keeps the whole DN)")
	}
	return rules, nil
}

// cutUnescaped returns s up to the first '/' not escaped by '\' (with the
// escapes of '/' removed) and what follows that '/'.
func cutUnescaped(s string) (string, string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '/':
			b.WriteByte('/')
			i++
		case s[i] == '\\' && i+1 < len(s):
			b.WriteString(s[i : i+2])
			i++
		case s[i] == '/':
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", fmt.Errorf("rule %q is missing its closing '/'", s)
}

// mapPrincipal applies the rules to a DN; no rule matching is Kafka's
// error, which here leaves the DN as it is.
func mapPrincipal(rules []principalRule, dn string) string {
	for _, r := range rules {
		if r.re == nil {
			return dn
		}
		if !r.re.MatchString(dn) {
			continue
		}
		name := r.re.ReplaceAllString(dn, r.replacement)
		switch r.fold {
		case 'L':
			name = strings.ToLower(name)
		case 'U':
			name = strings.ToUpper(name)
		}
		return name
	}
	return dn
}

// certPrincipal is the principal of a verified client certificate.
func (s *security) certPrincipal(cert *x509.Certificate) string {
	return "User:" + mapPrincipal(s.rules, cert.Subject.String())
}
