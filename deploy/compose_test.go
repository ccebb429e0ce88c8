package deploy

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The subset of the Compose file format that compose.yaml uses. Decoding
// rejects any other key, so a typo (or a key this test does not know yet:
// add it here) fails rather than being ignored. Lists are lists: command
// and ports are written as YAML sequences, never as one string.
type composeFile struct {
	Name     string                    `json:"name"`
	Services map[string]composeService `json:"services"`
	Volumes  map[string]*struct {
		Driver   string `json:"driver"`
		External bool   `json:"external"`
		Name     string `json:"name"`
	} `json:"volumes"`
}

type composeService struct {
	Image string `json:"image"`
	Build *struct {
		Context    string            `json:"context"`
		Dockerfile string            `json:"dockerfile"`
		Args       map[string]string `json:"args"`
	} `json:"build"`
	Command     []string          `json:"command"`
	Entrypoint  []string          `json:"entrypoint"`
	Environment map[string]string `json:"environment"`
	Ports       []string          `json:"ports"`
	Volumes     []string          `json:"volumes"`
	Restart     string            `json:"restart"`
	DependsOn   map[string]struct {
		Condition string `json:"condition"`
		Restart   bool   `json:"restart"`
		Required  *bool  `json:"required"`
	} `json:"depends_on"`
	Healthcheck *struct {
		Test        []string `json:"test"`
		Interval    string   `json:"interval"`
		Timeout     string   `json:"timeout"`
		Retries     int      `json:"retries"`
		StartPeriod string   `json:"start_period"`
	} `json:"healthcheck"`
}

// decodeCompose decodes a compose file strictly. Top-level x- keys
// (extension fields, used for YAML anchors) are dropped first, as Compose
// ignores them; merge keys (<<: *anchor) are resolved by the YAML decoder.
func decodeCompose(data []byte) (*composeFile, error) {
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(j, &top); err != nil {
		return nil, err
	}
	for k := range top {
		if strings.HasPrefix(k, "x-") {
			delete(top, k)
		}
	}
	j, err = json.Marshal(top)
	if err != nil {
		return nil, err
	}
	var f composeFile
	if err := unmarshalStrict(j, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

func TestDecodeComposeRejects(t *testing.T) {
	for _, tc := range []struct{ name, doc, err string }{
		{"unknown service key", "services:\n  a:\n    imgae: x\n", "unknown field"},
		{"command as a string", "services:\n  a:\n    command: agent --bucket=x\n", "cannot unmarshal"},
		{"duplicate key", "services:\n  a:\n    image: x\n    image: y\n", "already set"},
		{"key in the wrong case", "services:\n  a:\n    Image: x\n", "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeCompose([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("decodeCompose = %v, want an error containing %q", err, tc.err)
			}
		})
	}
	f, err := decodeCompose([]byte("x-a: &a\n  image: x\nservices:\n  s:\n    <<: *a\n    restart: always\n"))
	if err != nil || f.Services["s"].Image != "x" {
		t.Fatalf("decodeCompose with a merge key = %+v, %v", f, err)
	}
}

// publishedPort returns the container port a "HOST:CONTAINER" mapping
// publishes hostPort to.
func publishedPort(ports []string, hostPort string) (string, bool) {
	for _, p := range ports {
		p = strings.TrimSuffix(p, "/tcp")
		parts := strings.Split(p, ":")
		if len(parts) >= 2 && parts[len(parts)-2] == hostPort {
			return parts[len(parts)-1], true
		}
	}
	return "", false
}

func TestCompose(t *testing.T) {
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := decodeCompose(data)
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}

	// The silt agents are the services whose command is `silt agent`.
	agents := map[string]agentArgs{}
	var names []string
	for name, s := range f.Services {
		if len(s.Command) == 0 || s.Command[0] != "agent" {
			continue
		}
		args, err := parseAgentArgs(s.Command)
		if err != nil {
			t.Errorf("service %s: %v", name, err)
			continue
		}
		agents[name] = args
		names = append(names, name)
	}
	slices.Sort(names)
	if len(names) != 3 {
		t.Fatalf("%d silt agent services (%v), want 3", len(names), names)
	}

	bucket := agents[names[0]].get("bucket")
	endpoint := agents[names[0]].get("s3-endpoint")
	t.Run("one bucket", func(t *testing.T) {
		for _, n := range names {
			if b := agents[n].get("bucket"); b != bucket {
				t.Errorf("%s: --bucket=%q, %s has %q: the agents would form two clusters", n, b, names[0], bucket)
			}
			if e := agents[n].get("s3-endpoint"); e != endpoint {
				t.Errorf("%s: --s3-endpoint=%q, %s has %q", n, e, names[0], endpoint)
			}
		}
		if !strings.HasPrefix(bucket, "s3://") && !strings.HasPrefix(bucket, "minio://") {
			t.Fatalf("--bucket=%q: the containers share no directory, the bucket must be on the S3 server", bucket)
		}
	})

	// The S3 server is another service of the file, with the agents'
	// credentials, and a one-shot service creates the bucket.
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" {
		t.Fatalf("--s3-endpoint=%q: %v", endpoint, err)
	}
	storeName := u.Hostname()
	store, ok := f.Services[storeName]
	if !ok {
		t.Fatalf("--s3-endpoint names host %q, which is no service of compose.yaml", storeName)
	}
	bucketName := strings.SplitN(strings.SplitN(bucket, "://", 2)[1], "/", 2)[0]

	t.Run("bucket is created first", func(t *testing.T) {
		creator := ""
		for name, s := range f.Services {
			if slices.Contains(s.Command, "mb") && slices.ContainsFunc(s.Command, func(a string) bool { return strings.HasSuffix(a, "/"+bucketName) }) {
				creator = name
				if _, ok := s.DependsOn[storeName]; !ok {
					t.Errorf("service %s creates the bucket without depending on %s", name, storeName)
				}
			}
		}
		if creator == "" {
			t.Fatalf("no service runs `mc mb .../%s`", bucketName)
		}
		for _, n := range names {
			if dep, ok := f.Services[n].DependsOn[creator]; !ok || dep.Condition != "service_completed_successfully" {
				t.Errorf("%s must depend on %s with condition service_completed_successfully", n, creator)
			}
		}
	})

	t.Run("credentials match the store", func(t *testing.T) {
		for _, n := range names {
			env := f.Services[n].Environment
			for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} {
				if env[k] == "" {
					t.Errorf("%s: no %s in environment", n, k)
				}
			}
			if env["AWS_ACCESS_KEY_ID"] != store.Environment["MINIO_ROOT_USER"] || env["AWS_SECRET_ACCESS_KEY"] != store.Environment["MINIO_ROOT_PASSWORD"] {
				t.Errorf("%s: AWS credentials are not %s's MINIO_ROOT_USER/MINIO_ROOT_PASSWORD", n, storeName)
			}
		}
	})

	t.Run("each agent has its own name and host port", func(t *testing.T) {
		nodeNames, hostPorts := map[string]string{}, map[string]string{}
		for _, n := range names {
			a := agents[n]
			nn := a.get("node-name")
			if nn == "" {
				t.Errorf("%s: no --node-name (the default, the container's random hostname, changes on every re-create)", n)
			} else if other, dup := nodeNames[nn]; dup {
				t.Errorf("%s and %s share --node-name=%s", n, other, nn)
			}
			nodeNames[nn] = n

			// Every listener is advertised at a published host port.
			for l := range strings.SplitSeq(a.get("listen"), ",") {
				proto, listen, err := splitListener(l)
				if err != nil {
					t.Errorf("%s: --listen: %v", n, err)
					continue
				}
				host, hp, err := net.SplitHostPort(listenerAddr(t, a.get("advertise"), proto))
				if err != nil {
					t.Errorf("%s: --advertise=%q: %v", n, a.get("advertise"), err)
					continue
				}
				if host != "localhost" && host != "127.0.0.1" {
					t.Errorf("%s: %s advertised on host %q, want localhost (the clients are on the host)", n, proto, host)
				}
				if other, dup := hostPorts[hp]; dup {
					t.Errorf("%s and %s both advertise port %s", n, other, hp)
				}
				hostPorts[hp] = n
				if cp, ok := publishedPort(f.Services[n].Ports, hp); !ok || cp != port(t, listen) {
					t.Errorf("%s advertises %s at localhost:%s, but ports %v do not publish it to the listen port %s", n, proto, hp, f.Services[n].Ports, port(t, listen))
				}
				if lh, _, _ := net.SplitHostPort(listen); lh != "" && lh != "0.0.0.0" {
					t.Errorf("%s: %s listener %q is not reachable through a published port", n, proto, listen)
				}
			}
		}
	})

	// The demo's secrets: a one-shot service writes them into a volume the
	// agents mount, before any agent starts.
	t.Run("a SASL_SSL listener and the cluster secret, made before the agents start", func(t *testing.T) {
		maker, script := secretsService(t, f)
		for _, n := range names {
			a := agents[n]
			listenerAddr(t, a.get("listen"), "SASL_SSL")
			for _, flag := range []string{"tls-cert", "tls-key", "cluster-secret-file"} {
				path := a.get(flag)
				if path == "" {
					t.Errorf("%s: no --%s", n, flag)
					continue
				}
				if !mountsFileOf(f.Services[n], f.Services[maker], path) {
					t.Errorf("%s: --%s=%s is not in a volume that %s writes", n, flag, path, maker)
				}
				if !strings.Contains(script, filepath.Base(path)) {
					t.Errorf("%s: --%s=%s, but %s never makes %s", n, flag, path, maker, filepath.Base(path))
				}
			}
			if dep, ok := f.Services[n].DependsOn[maker]; !ok || dep.Condition != "service_completed_successfully" {
				t.Errorf("%s must depend on %s with condition service_completed_successfully", n, maker)
			}
		}
	})

	t.Run("the first user is written to the agents' bucket", func(t *testing.T) {
		maker, script := secretsService(t, f)
		found := false
		for name, s := range f.Services {
			if len(s.Command) < 2 || s.Command[0] != "user" || s.Command[1] != "set" {
				continue
			}
			found = true
			args := map[string]string{}
			for _, arg := range s.Command[2:] {
				k, v, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
				args[k] = v
			}
			if args["bucket"] != bucket || args["s3-endpoint"] != endpoint {
				t.Errorf("%s writes the user to %s at %s, the agents use %s at %s", name, args["bucket"], args["s3-endpoint"], bucket, endpoint)
			}
			if pw := args["password-file"]; !mountsFileOf(s, f.Services[maker], pw) || !strings.Contains(script, filepath.Base(pw)) {
				t.Errorf("%s: --password-file=%s is not made by %s", name, pw, maker)
			}
			if s.Restart != "no" {
				t.Errorf("%s runs once: restart %q, want \"no\"", name, s.Restart)
			}
		}
		if !found {
			t.Error("no service runs `silt user set`: the SASL_SSL listener would have no user")
		}
	})

	t.Run("agents reach each other's internal RPC", func(t *testing.T) {
		for _, n := range names {
			a := agents[n]
			// The agent's default: the --advertise host with the --http port.
			internal := a.get("http-advertise")
			if internal == "" {
				host, _, _ := net.SplitHostPort(a.get("advertise"))
				internal = net.JoinHostPort(host, port(t, a.get("http")))
			}
			host, p, err := net.SplitHostPort(internal)
			if err != nil {
				t.Fatalf("%s: internal address %q: %v", n, internal, err)
			}
			if host != n || p != port(t, a.get("http")) {
				t.Errorf("%s: other agents would reach its internal RPC at %s, want %s:%s (set --http-advertise)", n, internal, n, port(t, a.get("http")))
			}
		}
	})

	t.Run("gossip joins the others", func(t *testing.T) {
		for _, n := range names {
			var want []string
			for _, o := range names {
				if o != n {
					want = append(want, net.JoinHostPort(o, port(t, agents[o].get("gossip"))))
				}
			}
			got := strings.Split(agents[n].get("join"), ",")
			slices.Sort(got)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: --join=%q, want the other agents %s", n, agents[n].get("join"), strings.Join(want, ","))
			}
		}
	})

	t.Run("built from the Dockerfile", func(t *testing.T) {
		for _, n := range names {
			s := f.Services[n]
			if s.Build == nil {
				continue
			}
			df := filepath.Join(s.Build.Context, s.Build.Dockerfile)
			if _, err := os.Stat(df); err != nil {
				t.Errorf("%s: build context %q + dockerfile %q: %v", n, s.Build.Context, s.Build.Dockerfile, err)
			}
			if _, err := os.Stat(filepath.Join(s.Build.Context, "go.mod")); err != nil {
				t.Errorf("%s: build context %q is not the repository root: %v", n, s.Build.Context, err)
			}
		}
	})

	t.Run("no shell healthcheck on distroless", func(t *testing.T) {
		for _, n := range names {
			if hc := f.Services[n].Healthcheck; hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE" {
				t.Errorf("%s: healthcheck %q cannot run: the silt image has no shell or curl", n, hc.Test)
			}
		}
	})
}

// secretsService finds the one-shot service that makes the demo's secrets
// (the one whose script runs openssl) and returns its name and script.
func secretsService(t *testing.T, f *composeFile) (string, string) {
	t.Helper()
	for name, s := range f.Services {
		script := strings.Join(s.Command, "\n")
		if strings.Contains(script, "openssl req") {
			return name, script
		}
	}
	t.Fatal("no service makes the certificates with openssl")
	return "", ""
}

// mountsFileOf reports whether path lies in a named volume that user
// mounts and maker mounts too (where maker writes it).
func mountsFileOf(user, maker composeService, path string) bool {
	for _, uv := range user.Volumes {
		vol, dir, ok := strings.Cut(uv, ":")
		dir, _, _ = strings.Cut(dir, ":")
		if !ok || !strings.HasPrefix(path, dir+"/") {
			continue
		}
		for _, mv := range maker.Volumes {
			if mvol, _, _ := strings.Cut(mv, ":"); mvol == vol {
				return true
			}
		}
	}
	return false
}
