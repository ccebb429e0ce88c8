package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/silt-io/silt/localstack/localstacktest"
)

// kcatPath is where CI installs kcat (Debian's package).
const kcatPath = "/usr/bin/kcat"

// kcat runs kcat with args and stdin and returns its stdout. It fails the
// test if kcat is missing, fails, or runs over a minute.
func kcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath(kcatPath)
	if err != nil {
		t.Fatalf("kcat is required by the end-to-end tests (apt-get install kcat): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// TestKcat drives the agent binary with librdkafka through kcat, a client
// written independently of franz-go: keyed lines produced with every
// compression codec are consumed back intact, and the metadata listing
// names the topic and its partitions.
func TestKcat(t *testing.T) {
	p := localstacktest.StartProcess(t, localstacktest.ProcessOptions{Bucket: t.TempDir()})
	addr := p.Addr()
	adm := newAdmin(t, []string{addr})

	t.Run("metadata", func(t *testing.T) {
		createTopic(t, adm, "kcat-meta", 3, nil)
		out := kcat(t, "", "-L", "-b", addr, "-t", "kcat-meta")
		for _, want := range []string{
			"1 brokers:",
			"at " + addr,
			`topic "kcat-meta" with 3 partitions:`,
			"partition 0, leader",
			"partition 1, leader",
			"partition 2, leader",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("kcat -L output lacks %q:\n%s", want, out)
			}
		}
	})

	// A topic librdkafka produces to before anyone created it is created
	// with the agent's default partition count (1) and works like any.
	t.Run("auto-created topic", func(t *testing.T) {
		kcat(t, "a:1\nb:2\nc:3\n", "-P", "-b", addr, "-t", "kcat-auto", "-K:")
		if out := kcat(t, "", "-L", "-b", addr, "-t", "kcat-auto"); !strings.Contains(out, `topic "kcat-auto" with 1 partitions:`) {
			t.Errorf("kcat -L after producing to a new topic:\n%s", out)
		}
		if out := kcat(t, "", "-C", "-b", addr, "-t", "kcat-auto", "-e", "-o", "beginning", "-f", "%k:%s\n"); out != "a:1\nb:2\nc:3\n" {
			t.Errorf("consumed %q, want the three lines in order", out)
		}
	})

	// Each codec gets its own topic of three partitions; keys spread the
	// lines over them (librdkafka hashes keys). librdkafka compresses
	// with the codec asked for, so the agent validates and stores batches
	// in each format.
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run("produce-consume-"+codec, func(t *testing.T) {
			topic := "kcat-" + codec
			createTopic(t, adm, topic, 3, nil)
			var lines []string
			for i := range 300 {
				lines = append(lines, fmt.Sprintf("key%03d:%s-value-%03d-%s", i, codec, i, strings.Repeat("x", i%50)))
			}
			kcat(t, strings.Join(lines, "\n")+"\n", "-P", "-b", addr, "-t", topic, "-K:", "-z", codec)

			out := kcat(t, "", "-C", "-b", addr, "-t", topic, "-e", "-o", "beginning", "-f", "%k:%s\n")
			got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			// Partitions interleave in a consumer's output; order within a
			// partition is TestRoundTrip's business.
			slices.Sort(got)
			if !slices.Equal(got, lines) {
				t.Errorf("consumed %d lines, produced %d; consumed:\n%s", len(got), len(lines), out)
			}
		})
	}
}
