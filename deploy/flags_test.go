package deploy

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// flagKind is the kind of value a `silt agent` flag takes, so the tests can
// check the values given in the deployment files, not only the names.
type flagKind int

const (
	kindString    flagKind = iota // any non-empty string
	kindBucket                    // a bucket URL or a directory
	kindURL                       // http(s)://host[:port]
	kindAddr                      // host:port (empty host: every interface)
	kindAddrOff                   // host:port, or empty for off
	kindAddrList                  // comma-separated host:port
	kindListeners                 // comma-separated [PROTOCOL://]host:port, PROTOCOL a Kafka security protocol
	kindDuration                  // time.ParseDuration
	kindSize                      // 8MiB, 1GiB, 1000…
	kindInt                       // a decimal integer
	kindFloat                     // a decimal number
	kindBool                      // given bare (--x) or as --x=true|false
	kindLogLevel                  // debug, info, warn, error
	kindLogFormat                 // text, json
)

// agentFlags are the flags of `silt agent` (without the leading "--").
//
// This list must follow `silt agent --help` (cmd/silt/agent.go): whoever
// adds, renames or removes a flag there changes it here too.
// TestAgentFlagsExistInSource checks that every name here is still
// registered in cmd/silt.
var agentFlags = map[string]flagKind{
	"bucket":                        kindBucket,
	"s3-endpoint":                   kindURL,
	"node-name":                     kindString,
	"node-id":                       kindInt,
	"listen":                        kindListeners,
	"advertise":                     kindListeners,
	"http":                          kindAddrOff,
	"http-advertise":                kindAddr,
	"gossip":                        kindAddr,
	"gossip-advertise":              kindAddr,
	"join":                          kindAddrList,
	"zone":                          kindString,
	"flush-interval":                kindDuration,
	"flush-bytes":                   kindSize,
	"put-budget":                    kindFloat,
	"queued-max-request-bytes":      kindSize,
	"cache-size":                    kindSize,
	"cache-dir":                     kindString,
	"auto-create-topics":            kindBool,
	"default-partitions":            kindInt,
	"message-max-bytes":             kindInt,
	"commit-timeout":                kindDuration,
	"offsets-retention":             kindDuration,
	"transaction-max-timeout":       kindDuration,
	"group-initial-rebalance-delay": kindDuration,
	"compaction":                    kindBool,
	"export":                        kindBool,
	"log-level":                     kindLogLevel,
	"log-format":                    kindLogFormat,

	// Authorization (Kafka ACLs).
	"authorizer":                     kindBool,
	"super-users":                    kindString,
	"allow-everyone-if-no-acl-found": kindBool,
	"tls-cert":                       kindString,
	"tls-key":                        kindString,
	"tls-client-ca":                  kindString,
	"tls-client-auth":                kindString,
	"ssl-principal-mapping-rules":    kindString,
	"sasl-mechanisms":                kindString,
	"oauth-jwks-file":                kindString,
	"oauth-issuer":                   kindString,
	"oauth-audience":                 kindString,
	"connections-max-reauth":         kindDuration,
	"cluster-secret-file":            kindString,
}

// agentDefaults are the defaults of the flags the tests reason about when a
// file leaves them out.
var agentDefaults = map[string]string{
	"listen": "localhost:9092",
	"http":   "localhost:9644",
	"gossip": "", // off unless --gossip or --join asks for it
}

// agentArgs are the parsed arguments of one `silt agent` command line.
type agentArgs map[string]string

// get returns the value of a flag, or its default.
func (a agentArgs) get(name string) string {
	if v, ok := a[name]; ok {
		return v
	}
	return agentDefaults[name]
}

// parseAgentArgs parses a command line as the silt binary would: "agent",
// then only --name=value, --name value or (for booleans) --name. It rejects
// what pflag would reject (unknown flags, missing values, positional
// arguments, which `silt agent` refuses) and, stricter than pflag, a flag
// given twice and a value that is not of the flag's kind. $(VAR) references,
// which Kubernetes expands, are checked with a stand-in address.
func parseAgentArgs(args []string) (agentArgs, error) {
	if len(args) == 0 || args[0] != "agent" {
		return nil, fmt.Errorf("the command must start with the subcommand %q, got %q", "agent", args)
	}
	out := agentArgs{}
	for i := 1; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "--") || len(arg) == 2 {
			return nil, fmt.Errorf("argument %q: silt agent takes only --flags (no shorthands or positional arguments)", arg)
		}
		name, value, hasValue := strings.Cut(arg[2:], "=")
		kind, ok := agentFlags[name]
		if !ok {
			return nil, fmt.Errorf("--%s is not a `silt agent` flag", name)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--%s is given twice", name)
		}
		if !hasValue {
			if kind == kindBool {
				value = "true"
			} else {
				if i+1 == len(args) {
					return nil, fmt.Errorf("--%s needs a value", name)
				}
				i++
				value = args[i]
			}
		}
		if err := checkFlagValue(kind, expandVars(value)); err != nil {
			return nil, fmt.Errorf("--%s=%s: %w", name, value, err)
		}
		out[name] = value
	}
	return out, nil
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// expandVars replaces each $(VAR) with a stand-in of the right shape.
func expandVars(s string) string {
	return varRef.ReplaceAllString(s, "192.0.2.1")
}

// varRefs returns the names of the $(VAR) references in s.
func varRefs(s string) []string {
	var out []string
	for _, m := range varRef.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

var sizeRE = regexp.MustCompile(`^[0-9]+ *(KiB|MiB|GiB|TiB|KB|MB|GB|TB|K|M|G|B)?$`)

func checkFlagValue(kind flagKind, v string) error {
	switch kind {
	case kindString:
		if v == "" {
			return fmt.Errorf("empty")
		}
	case kindBucket:
		return checkBucketURL(v)
	case kindURL:
		u, err := url.Parse(v)
		if err != nil {
			return err
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("want http(s)://host[:port]")
		}
	case kindAddrOff:
		if v == "" {
			return nil
		}
		return checkAddr(v)
	case kindAddr:
		return checkAddr(v)
	case kindListeners:
		for l := range strings.SplitSeq(v, ",") {
			if _, _, err := splitListener(l); err != nil {
				return err
			}
		}
	case kindAddrList:
		for a := range strings.SplitSeq(v, ",") {
			if err := checkAddr(a); err != nil {
				return err
			}
		}
	case kindDuration:
		_, err := time.ParseDuration(v)
		return err
	case kindSize:
		if !sizeRE.MatchString(v) {
			return fmt.Errorf("not a size (want e.g. 8MiB, 1GiB, 1000)")
		}
	case kindInt:
		_, err := strconv.ParseInt(v, 10, 32)
		return err
	case kindFloat:
		_, err := strconv.ParseFloat(v, 64)
		return err
	case kindBool:
		_, err := strconv.ParseBool(v)
		return err
	case kindLogLevel:
		if !slices.Contains([]string{"debug", "info", "warn", "error"}, strings.ToLower(v)) {
			return fmt.Errorf("want debug, info, warn or error")
		}
	case kindLogFormat:
		if v != "text" && v != "json" {
			return fmt.Errorf("want text or json")
		}
	}
	return nil
}

func checkAddr(v string) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q: %w", port, err)
	}
	return nil
}

// checkBucketURL accepts the forms objstore.ParseURL does.
func checkBucketURL(v string) error {
	if v == "" {
		return fmt.Errorf("empty")
	}
	if !strings.Contains(v, "://") {
		return nil // a directory
	}
	u, err := url.Parse(v)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "s3", "minio":
		if u.Host == "" {
			return fmt.Errorf("no bucket name")
		}
	case "file":
		if u.Path == "" {
			return fmt.Errorf("no directory")
		}
	default:
		return fmt.Errorf("scheme %q: want s3, minio or file", u.Scheme)
	}
	return nil
}

// port returns the port of a host:port.
// splitListener splits one entry of --listen or --advertise into its
// protocol (PLAINTEXT when bare) and address, as the agent does.
func splitListener(l string) (protocol, addr string, err error) {
	protocol, addr, ok := strings.Cut(l, "://")
	if !ok {
		protocol, addr = "PLAINTEXT", l
	}
	switch protocol {
	case "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL":
	default:
		return "", "", fmt.Errorf("listener %q: protocol %q is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", l, protocol)
	}
	return protocol, addr, checkAddr(addr)
}

// listenerAddr returns the address of the named listener in a --listen or
// --advertise list, failing the test if it has none.
func listenerAddr(t *testing.T, list, protocol string) string {
	t.Helper()
	for l := range strings.SplitSeq(list, ",") {
		if p, addr, err := splitListener(l); err == nil && p == protocol {
			return addr
		}
	}
	t.Fatalf("%q has no %s listener", list, protocol)
	return ""
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return p
}

func TestParseAgentArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want agentArgs
		err  string
	}{
		{name: "empty", args: nil, err: "subcommand"},
		{name: "other subcommand", args: []string{"bench"}, err: "subcommand"},
		{name: "bare agent", args: []string{"agent"}, want: agentArgs{}},
		{
			name: "equals and separate values",
			args: []string{"agent", "--bucket=s3://b/p", "--listen", ":9092", "--auto-create-topics", "--flush-bytes=8MiB"},
			want: agentArgs{"bucket": "s3://b/p", "listen": ":9092", "auto-create-topics": "true", "flush-bytes": "8MiB"},
		},
		{name: "kubernetes variable", args: []string{"agent", "--advertise=$(POD_IP):9092"}, want: agentArgs{"advertise": "$(POD_IP):9092"}},
		{name: "http off", args: []string{"agent", "--http="}, want: agentArgs{"http": ""}},
		{name: "unknown flag", args: []string{"agent", "--brokers=x:1"}, err: "not a `silt agent` flag"},
		{name: "shorthand", args: []string{"agent", "-l", ":9092"}, err: "only --flags"},
		{name: "positional", args: []string{"agent", "serve"}, err: "only --flags"},
		{name: "bool takes no separate value", args: []string{"agent", "--auto-create-topics", "false"}, err: "only --flags"},
		{name: "missing value", args: []string{"agent", "--bucket"}, err: "needs a value"},
		{name: "twice", args: []string{"agent", "--zone=a", "--zone=b"}, err: "twice"},
		{name: "bad address", args: []string{"agent", "--listen=9092"}, err: "missing port"},
		{name: "bad join list", args: []string{"agent", "--join=a:7946,b"}, err: "missing port"},
		{name: "bad duration", args: []string{"agent", "--flush-interval=250"}, err: "missing unit"},
		{name: "bad size", args: []string{"agent", "--cache-size=1gb"}, err: "not a size"},
		{name: "bad bucket scheme", args: []string{"agent", "--bucket=gs://b"}, err: "want s3"},
		{name: "bad endpoint", args: []string{"agent", "--s3-endpoint=minio:9000"}, err: "http(s)"},
		{name: "bad log format", args: []string{"agent", "--log-format=yaml"}, err: "text or json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseAgentArgs(tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseAgentArgs(%q) = %v, want an error containing %q", tc.args, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseAgentArgs(%q): %v", tc.args, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("parseAgentArgs(%q) = %v, want %v", tc.args, got, tc.want)
			}
		})
	}
}

// TestAgentFlagsExistInSource is a cheap guard that agentFlags follows the
// binary: each name must appear as a quoted string in cmd/silt's source, as
// it does where the flag is registered. A flag renamed there and still used
// here would otherwise only fail when a pod starts. The other way round, a
// flag registered in cmd/silt/agent.go must be in agentFlags.
func TestAgentFlagsExistInSource(t *testing.T) {
	agentSrc, err := os.ReadFile(filepath.Join("..", "cmd", "silt", "agent.go"))
	if err != nil {
		t.Fatal(err)
	}
	registered := regexp.MustCompile(`\bfs\.[A-Za-z0-9]+\(&?[A-Za-z0-9_.]+, "([a-z0-9-]+)"`).FindAllSubmatch(agentSrc, -1)
	if len(registered) == 0 {
		t.Fatal("found no flag registrations (fs.XxxVar(&v, \"name\", ...)) in ../cmd/silt/agent.go")
	}
	for _, m := range registered {
		if _, ok := agentFlags[string(m[1])]; !ok {
			t.Errorf("cmd/silt/agent.go registers --%s, which agentFlags lacks", m[1])
		}
	}

	files, err := filepath.Glob(filepath.Join("..", "cmd", "silt", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in ../cmd/silt (%v)", err)
	}
	var src strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	for name := range agentFlags {
		if !strings.Contains(src.String(), strconv.Quote(name)) {
			t.Errorf("flag --%s is in agentFlags but %q appears nowhere in ../cmd/silt: renamed or removed? (update agentFlags and the deployment files)", name, name)
		}
	}
}
