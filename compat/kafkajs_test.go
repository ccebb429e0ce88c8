package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// kafkajsDir holds roundtrip.js and the package.json and package-lock.json
// that pin kafkajs; node_modules is installed there (and ignored by git).
const kafkajsDir = "kafkajs"

// kafkajsSummary is the JSON line roundtrip.js prints.
type kafkajsSummary struct {
	Kafkajs              string             `json:"kafkajs"`
	Topic                string             `json:"topic"`
	Group                string             `json:"group"`
	Produced             int                `json:"produced"`
	Consumed             int                `json:"consumed"`
	Unique               int                `json:"unique"`
	Duplicates           []string           `json:"duplicates"`
	Foreign              []map[string]any   `json:"foreign"`
	OutOfOrder           []map[string]any   `json:"outOfOrder"`
	Missing              int                `json:"missing"`
	PartitionsByConsumer map[string][]int32 `json:"partitionsByConsumer"`
	Errors               []string           `json:"errors"`
	OK                   bool               `json:"ok"`
}

// TestKafkaJS runs compat/kafkajs/roundtrip.js with Node: kafkajs produces
// keyed messages (idempotent, acks -1) and two kafkajs consumers in one
// group read them back. Every message must be read exactly once, in order
// per partition, by consumers that split the partitions, and the group's
// committed offsets must end at the partitions' ends. Node and npm are
// required: without them the test fails.
func TestKafkaJS(t *testing.T) {
	const (
		topic      = "kafkajs"
		group      = topic + "-group" // as roundtrip.js names it
		partitions = 3
		n          = 600
	)
	node := requireTool(t, "node", "Node.js runs the kafkajs compatibility test (Debian: apt-get install nodejs npm)")
	installKafkaJS(t)

	c := startCluster(t, time.Second)
	adm := newAdmin(t, c)
	createTopic(t, adm, topic, partitions)

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "roundtrip.js", c.Bootstrap(), topic, strconv.Itoa(n))
	cmd.Dir = kafkajsDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	elapsed := time.Since(start)
	if stderr.Len() > 0 {
		t.Logf("roundtrip.js stderr:\n%s", lastLines(stderr.String(), 40))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var s kafkajsSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
		t.Fatalf("roundtrip.js (%v) printed no summary: %v\nstdout:\n%s\nstderr:\n%s", runErr, err, stdout.String(), lastLines(stderr.String(), 40))
	}
	t.Logf("kafkajs %s in %v: %s", s.Kafkajs, elapsed.Round(time.Millisecond), lines[len(lines)-1])
	if runErr != nil {
		t.Errorf("roundtrip.js: %v", runErr)
	}
	switch {
	case len(s.Errors) > 0:
		t.Errorf("roundtrip.js failed: %s", strings.Join(s.Errors, "\n"))
	case s.Produced != n:
		t.Errorf("produced %d messages, want %d", s.Produced, n)
	}
	if s.Unique != n || s.Consumed != n || s.Missing != 0 {
		t.Errorf("read %d distinct messages of %d (%d deliveries), %d never read; want each exactly once", s.Unique, n, s.Consumed, s.Missing)
	}
	if len(s.Duplicates) > 0 {
		t.Errorf("messages read more than once: %v", s.Duplicates)
	}
	if len(s.Foreign) > 0 {
		t.Errorf("messages read that were never produced: %v", s.Foreign)
	}
	if len(s.OutOfOrder) > 0 {
		t.Errorf("messages read out of offset order: %v", s.OutOfOrder)
	}
	owner := map[int32]string{}
	for name, ps := range s.PartitionsByConsumer {
		if len(ps) == 0 {
			t.Errorf("consumer %s read nothing: %v", name, s.PartitionsByConsumer)
		}
		for _, p := range ps {
			if o, ok := owner[p]; ok {
				t.Errorf("partition %d read by both %s and %s", p, o, name)
			}
			owner[p] = name
		}
	}
	if len(s.PartitionsByConsumer) != 2 || len(owner) != partitions {
		t.Errorf("partitions by consumer %v: want two consumers covering %d partitions", s.PartitionsByConsumer, partitions)
	}
	if s.OK != !t.Failed() {
		t.Errorf("roundtrip.js says ok=%v, this test disagrees", s.OK)
	}

	ends := endOffsets(t, adm, topic)
	total := int64(0)
	for _, e := range ends {
		total += e
	}
	if total != n {
		t.Errorf("partition ends %v add up to %d, want %d", ends, total, n)
	}
	waitCommitted(t, adm, group, topic, ends)
}

// requireTool returns the path of a program the test needs, failing the
// test with why if it is missing: CI installs it (.ci/run), and a missing
// tool must not pass for a working client.
func requireTool(t *testing.T, name, why string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required: %s: %v", name, why, err)
	}
	return path
}

// installKafkaJS installs the locked packages into kafkajs/node_modules
// with `npm ci`, unless they are there already.
func installKafkaJS(t *testing.T) {
	t.Helper()
	npm := requireTool(t, "npm", "npm installs kafkajs for the kafkajs compatibility test (Debian: apt-get install npm)")
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	data, err := os.ReadFile(filepath.Join(kafkajsDir, "package-lock.json"))
	if err == nil {
		err = json.Unmarshal(data, &lock)
	}
	if err != nil {
		t.Fatalf("read kafkajs/package-lock.json: %v", err)
	}
	want := lock.Packages["node_modules/kafkajs"].Version
	if want == "" {
		t.Fatal("kafkajs/package-lock.json locks no kafkajs")
	}
	var installed struct {
		Version string `json:"version"`
	}
	if data, err := os.ReadFile(filepath.Join(kafkajsDir, "node_modules", "kafkajs", "package.json")); err == nil &&
		json.Unmarshal(data, &installed) == nil && installed.Version == want {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = kafkajsDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in compat/kafkajs: %v\n%s", err, out)
	}
	t.Logf("installed kafkajs %s with npm ci", want)
}

// lastLines returns the last lines of s.
func lastLines(s string, lines int) string {
	all := strings.Split(s, "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
