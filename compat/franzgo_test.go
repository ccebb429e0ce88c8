//go:build compat

// This file runs franz-go's own integration tests against silt. It is
// behind the compat build tag (`make compat`) because it compiles and runs
// a client's test suite, which takes minutes.

package compat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// franzGoTests are franz-go's pkg/kgo integration tests that need a broker,
// each with what silt is expected to do. A test
// expected to pass that fails fails this test; one expected to fail that
// passes is reported, so the list is kept true.
var franzGoTests = map[string]bool{
	"TestGroupETL":                               true, // classic range/cooperative-sticky/static and KIP-848 sticky/range/static
	"TestGroupSimple":                            true,
	"TestClient_Produce":                         true,
	"TestIssue325":                               true,
	"TestAddRemovePartitions":                    true,
	"TestConsumeTopicRetrieval":                  true,
	"TestConsumeTopicRetrieval_Many":             true,
	"TestIssue337":                               true,
	"TestDirectPartitionPurge":                   true,
	"TestIssue434":                               true,
	"TestPauseIssue489":                          true,
	"TestPauseIssueOct2023":                      true,
	"TestIssue523":                               true,
	"TestIssue648":                               true,
	"TestIssue810":                               true,
	"TestIssue865":                               true,
	"TestIssueFetchLargerThanBrokerMaxReadBytes": true,
	"TestPooling":                                true,
	"TestLookbackMilli":                          true,
	"TestConsumeMaxDecompressBatchBytes":         true,
	"TestIssue769":                               true,
	"TestIssue831":                               true,
	"TestClient_ProduceLargeMessages":            true,
	"TestUnknownGroupOffsetFetchPinned":          true,
	"TestPing":                                   true,
	"TestIssue1034":                              true,
	"TestDelTopicsWithCoexistingPartitionPauses": true,
	"TestKip951MoveAfterPurgeReAddNoPanic":       true,
	"TestEachTopicPreservesTopicID":              true,
	"TestConsumeRegex":                           true, // __consumer_offsets is listed as internal (agent/offsetstopic)
	"TestTxnEtl":                                 true, // transactional producer, then six read_committed group transact sessions chained (EOS)
}

func TestFranzGoIntegration(t *testing.T) {
	// At the agent's defaults: the suite produces synchronously a record
	// at a time, which the file bucket answers as soon as it is written.
	c := localstacktest.StartT(t, localstack.Options{})
	dir := copyModule(t, "github.com/twmb/franz-go")

	names := make([]string, 0, len(franzGoTests))
	for n := range franzGoTests {
		names = append(names, n)
	}
	sort.Strings(names)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-json", "-count=1", "-timeout=15m",
		"-run", "^("+strings.Join(names, "|")+")$", ".")
	cmd.Dir = filepath.Join(dir, "pkg", "kgo")
	cmd.Env = append(os.Environ(), "KGO_SEEDS="+c.Bootstrap(), "KGO_TEST_RF=1", "KGO_TEST_RECORDS=50000", "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	results, outputs := parseTestJSON(out)
	if len(results) == 0 {
		t.Fatalf("franz-go's tests did not run: %v\n%s\n%s", err, stderr.String(), out)
	}
	passed := 0
	for _, n := range names {
		got, ran := results[n]
		switch {
		case !ran:
			t.Errorf("%s: did not run", n)
		case franzGoTests[n] && got != "pass":
			t.Errorf("%s: %s, want pass\n%s", n, got, tail(outputs[n], 60))
		case !franzGoTests[n] && got == "pass":
			t.Logf("%s: passes now; mark it expected to pass", n)
		}
		if got == "pass" {
			passed++
		}
		t.Logf("%-45s %s", n, got)
	}
	for name, res := range results {
		if strings.Contains(name, "/") {
			t.Logf("  %-43s %s", name, res)
		}
	}
	t.Logf("franz-go pkg/kgo integration tests against silt: %d of %d passed", passed, len(names))
}

// copyModule copies a module from the module cache into a writable
// temporary directory, so its tests can be run.
func copyModule(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", path).Output()
	if err != nil {
		t.Fatalf("locate %s: %v", path, err)
	}
	src := strings.TrimSpace(string(out))
	if src == "" {
		if out, err := exec.Command("go", "mod", "download", path).CombinedOutput(); err != nil {
			t.Fatalf("download %s: %v\n%s", path, err, out)
		}
		out, _ = exec.Command("go", "list", "-m", "-f", "{{.Dir}}", path).Output()
		src = strings.TrimSpace(string(out))
	}
	dst := t.TempDir()
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	return dst
}

// parseTestJSON returns each test's final action and its output.
func parseTestJSON(out []byte) (map[string]string, map[string]string) {
	results := map[string]string{}
	outputs := map[string]*strings.Builder{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e struct{ Action, Test, Output string }
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Test == "" {
			continue
		}
		switch e.Action {
		case "pass", "fail", "skip":
			results[e.Test] = e.Action
		case "output":
			top := strings.SplitN(e.Test, "/", 2)[0]
			if outputs[top] == nil {
				outputs[top] = &strings.Builder{}
			}
			outputs[top].WriteString(e.Output)
		}
	}
	texts := map[string]string{}
	for k, v := range outputs {
		texts[k] = v.String()
	}
	return results, texts
}

func tail(s string, lines int) string {
	all := strings.Split(s, "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
