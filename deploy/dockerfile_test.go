package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY…
	args string
}

// parseDockerfile splits a Dockerfile into instructions: comments and blank
// lines dropped, lines ending in a backslash joined to the next.
func parseDockerfile(data string) []instruction {
	var out []instruction
	var cur strings.Builder
	for line := range strings.SplitSeq(data, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// TestDockerfile checks the Dockerfile against the repository it builds:
// the package path exists, the Go version follows go.mod, and the image runs
// the binary with valid `silt agent` flags.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	ins := parseDockerfile(string(data))
	root := ".." // the build context: the repository root

	// Stages: the last FROM is the image; everything after it is its content.
	last := -1
	for i, in := range ins {
		if in.cmd == "FROM" {
			last = i
		}
	}
	if last < 0 {
		t.Fatal("no FROM")
	}
	final := ins[last:]

	t.Run("go build of ./cmd/silt", func(t *testing.T) {
		var build string
		for _, in := range ins[:last] {
			if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
				build = in.args
			}
		}
		if build == "" {
			t.Fatal("no RUN ... go build before the final stage")
		}
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-o /silt", "./cmd/silt"} {
			if !strings.Contains(build, want) {
				t.Errorf("the go build command lacks %q: %s", want, build)
			}
		}
		fields := strings.Fields(build)
		pkg := fields[len(fields)-1]
		if !strings.HasPrefix(pkg, "./") {
			t.Fatalf("the go build command should end with the package path, ends with %q", pkg)
		}
		dir := filepath.Join(root, filepath.FromSlash(pkg))
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		isMain := false
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err == nil && !strings.HasSuffix(f, "_test.go") && regexp.MustCompile(`(?m)^package main$`).Match(b) {
				isMain = true
			}
		}
		if !isMain {
			t.Errorf("go build %s: %s holds no package main", pkg, dir)
		}
	})

	t.Run("copied files exist", func(t *testing.T) {
		for _, in := range ins[:last] {
			if in.cmd != "COPY" || strings.Contains(in.args, "--from") {
				continue
			}
			f := strings.Fields(in.args)
			for _, src := range f[:len(f)-1] {
				if strings.HasPrefix(src, "--") || src == "." {
					continue
				}
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("COPY %s: %v", src, err)
				}
			}
		}
	})

	t.Run("go version follows go.mod", func(t *testing.T) {
		gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
		if m == nil {
			t.Fatal("no go directive in go.mod")
		}
		a := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`).FindStringSubmatch(string(data))
		if a == nil {
			t.Fatal("no ARG GO_VERSION=... in the Dockerfile")
		}
		if a[1] != string(m[1]) && !strings.HasPrefix(a[1], string(m[1])+".") {
			t.Errorf("Dockerfile builds with Go %s, go.mod needs go %s", a[1], m[1])
		}
	})

	t.Run("final image", func(t *testing.T) {
		base := strings.Fields(final[0].args)[0]
		if !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
			t.Errorf("final stage FROM %s: want distroless static or scratch for a static binary", base)
		}
		var entrypoint, cmd []string
		var exposed []string
		copied := false
		for _, in := range final[1:] {
			switch in.cmd {
			case "ENTRYPOINT":
				if err := json.Unmarshal([]byte(in.args), &entrypoint); err != nil {
					t.Errorf("ENTRYPOINT must be a JSON array (exec form; there is no shell): %v", err)
				}
			case "CMD":
				if err := json.Unmarshal([]byte(in.args), &cmd); err != nil {
					t.Errorf("CMD must be a JSON array (exec form; there is no shell): %v", err)
				}
			case "EXPOSE":
				for _, p := range strings.Fields(in.args) {
					if !strings.Contains(p, "/") {
						p += "/tcp"
					}
					exposed = append(exposed, p)
				}
			case "COPY":
				if strings.Contains(in.args, "--from=") && strings.HasSuffix(in.args, " /silt /silt") {
					copied = true
				}
			}
		}
		if !copied {
			t.Error("the final stage does not COPY --from=<build stage> /silt /silt")
		}
		if !slices.Equal(entrypoint, []string{"/silt"}) {
			t.Errorf("ENTRYPOINT %q, want [\"/silt\"]", entrypoint)
		}
		args, err := parseAgentArgs(cmd)
		if err != nil {
			t.Fatalf("CMD %q: %v", cmd, err)
		}
		for _, f := range []string{"listen", "http"} {
			if !strings.HasPrefix(args.get(f), ":") {
				t.Errorf("CMD: --%s=%q must bind every interface (\":port\") to be reachable from outside the container", f, args.get(f))
			}
		}
		for _, p := range []string{port(t, args.get("listen")) + "/tcp", port(t, args.get("http")) + "/tcp", port(t, args.get("gossip")) + "/tcp", port(t, args.get("gossip")) + "/udp"} {
			if !slices.Contains(exposed, p) {
				t.Errorf("EXPOSE %v lacks %s", exposed, p)
			}
		}
	})
}
