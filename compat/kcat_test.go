package compat

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kcatBin is kcat, librdkafka's command-line client; CI installs Debian's
// package (.ci/run).
const kcatBin = "kcat"

// TestKcatGroup runs three `kcat -G` processes, librdkafka's balanced
// consumer (the classic protocol), in one group on a six-partition topic:
// with librdkafka's default assignors (range, roundrobin: eager
// rebalancing) and with cooperative-sticky (incremental rebalancing).
// Once the group has settled, each with a non-empty share of the
// partitions and no two sharing one, records are produced; together the
// three print each exactly once, in order per partition, each only from
// its own partitions. SIGTERM makes each commit and leave, and the group's
// committed offsets are then the partitions' ends.
func TestKcatGroup(t *testing.T) {
	bin := requireTool(t, kcatBin, "kcat (librdkafka's client) runs the kcat group test (Debian: apt-get install kcat)")
	for _, tc := range []struct {
		name   string
		extra  []string // kcat options
		notice string   // what each kcat's rebalance notice must say: the protocol was used
	}{
		{"range-roundrobin", nil, "): assigned: "},
		{"cooperative-sticky", []string{"-X", "partition.assignment.strategy=cooperative-sticky"}, "COOPERATIVE rebalance protocol"},
	} {
		t.Run(tc.name, func(t *testing.T) { testKcatGroup(t, bin, tc.extra, tc.notice) })
	}
}

func testKcatGroup(t *testing.T, bin string, extra []string, notice string) {
	const (
		topic      = "kcat-group"
		group      = "kcat-group-group"
		partitions = 6
		n          = 600
	)
	c := startCluster(t, time.Second)
	adm := newAdmin(t, c)
	createTopic(t, adm, topic, partitions)
	ctx := testContext(t, 25*time.Second)

	consumed := newLedger()
	var procs []*kcatProc
	for i := range 3 {
		args := append([]string{"-b", c.Bootstrap(), "-G", group, topic, "-o", "beginning", "-u", "-f", `%p %o %k %s\n`}, extra...)
		procs = append(procs, startKcat(t, bin, fmt.Sprintf("kcat-%d", i), consumed, args...))
	}
	t.Cleanup(func() {
		for _, p := range procs {
			p.kill()
		}
	})

	// Wait for the group to settle: three non-empty, disjoint shares
	// covering the topic.
	settled := func() (map[string][]int32, bool) {
		shares := map[string][]int32{}
		owned := map[int32]bool{}
		ok := true
		for _, p := range procs {
			share := p.assignment()
			shares[p.name] = share
			if len(share) == 0 {
				ok = false
			}
			for _, part := range share {
				if owned[part] {
					ok = false
				}
				owned[part] = true
			}
		}
		return shares, ok && len(owned) == partitions
	}
	start := time.Now()
	var shares map[string][]int32
	for {
		var ok bool
		if shares, ok = settled(); ok {
			break
		}
		select {
		case <-ctx.Done():
			for _, p := range procs {
				t.Logf("%s stderr:\n%s", p.name, p.stderrText())
			}
			t.Fatalf("the kcat group did not settle: assignments %v", shares)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Logf("kcat group settled in %v: %v", time.Since(start).Round(time.Millisecond), shares)
	for _, p := range procs {
		if !strings.Contains(p.stderrText(), notice) {
			t.Errorf("%s never said %q; stderr:\n%s", p.name, notice, p.stderrText())
		}
	}

	// Produce with franz-go, record i to partition i%6.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	defer cl.Close()
	acked := newLedger()
	for i := range n {
		r := &kgo.Record{Topic: topic, Partition: int32(i % partitions), Key: []byte(testKey(i)), Value: []byte(testValue(i))}
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce record %d: %v", i, err)
				return
			}
			acked.add("producer", record{r.Partition, r.Offset, string(r.Key), string(r.Value)})
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	ends := endOffsets(t, adm, topic)
	produced := checkProduced(t, acked, n, ends)

	consumed.waitFor(t, ctx, n)
	if now, ok := settled(); !ok || !maps.EqualFunc(now, shares, slices.Equal) {
		t.Errorf("the group rebalanced while consuming: assignments %v, then %v", shares, now)
	}
	for _, p := range procs {
		p.stop(t)
	}
	parts := checkConsumedOnce(t, produced, consumed)
	names := make([]string, 0, len(procs))
	for _, p := range procs {
		names = append(names, p.name)
		for _, part := range parts[p.name] {
			if !slices.Contains(shares[p.name], part) {
				t.Errorf("%s printed records of partition %d, outside its assignment %v", p.name, part, shares[p.name])
			}
		}
	}
	checkMembersShared(t, parts, names)
	waitCommitted(t, adm, group, topic, ends)
}

// kcatProc is one running kcat: what it prints on stdout goes to a
// ledger; its stderr is kept, and its rebalance notices tell its current
// assignment.
type kcatProc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when stdout and stderr are drained

	mu       sync.Mutex
	assigned []int32
	stderr   strings.Builder
}

// kcatRebalance matches kcat's notice of an eager rebalance, e.g.
// "% Group g rebalanced (memberid m): assigned: t [0], t [1]", and of an
// incremental one, e.g. "% Group g rebalanced: incremental assignment of
// 2 partition(s) (memberid m, COOPERATIVE rebalance protocol): t [0], t [1]".
var kcatRebalance = regexp.MustCompile(`rebalanced(?: \(memberid [^)]*\): (assigned|revoked):|: (incremental) (assignment|revoke) of \d+ partition\(s\) \([^)]*\):) (.*)$`)

// kcatPartition matches one partition of a notice: "t [3]".
var kcatPartition = regexp.MustCompile(`\[(\d+)\]`)

func startKcat(t *testing.T, bin, name string, out *ledger, args ...string) *kcatProc {
	t.Helper()
	p := &kcatProc{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", strings.Join(p.cmd.Args, " "), err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { p.readStdout(t, stdout, out) })
	wg.Go(func() { p.readStderr(stderr) })
	go func() { wg.Wait(); close(p.done) }()
	return p
}

func (p *kcatProc) readStdout(t *testing.T, r io.Reader, out *ledger) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 4)
		part, err1 := strconv.ParseInt(f[0], 10, 32)
		var off int64
		var err2 error
		if len(f) == 4 {
			off, err2 = strconv.ParseInt(f[1], 10, 64)
		}
		if len(f) != 4 || err1 != nil || err2 != nil {
			t.Errorf("%s printed %q, not %%p %%o %%k %%s", p.name, sc.Text())
			continue
		}
		out.add(p.name, record{int32(part), off, f[2], f[3]})
	}
}

func (p *kcatProc) readStderr(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.stderr.WriteString(line + "\n")
		if m := kcatRebalance.FindStringSubmatch(line); m != nil {
			var parts []int32
			for _, pm := range kcatPartition.FindAllStringSubmatch(m[4], -1) {
				n, _ := strconv.ParseInt(pm[1], 10, 32)
				parts = append(parts, int32(n))
			}
			switch {
			case m[1] == "assigned": // eager: the whole assignment
				p.assigned = parts
			case m[3] == "assignment": // incremental: added partitions
				for _, x := range parts {
					if !slices.Contains(p.assigned, x) {
						p.assigned = append(p.assigned, x)
					}
				}
			default: // revoked
				p.assigned = slices.DeleteFunc(p.assigned, func(x int32) bool { return slices.Contains(parts, x) })
			}
			slices.Sort(p.assigned)
		}
		p.mu.Unlock()
	}
}

// assignment returns the partitions kcat last said it was assigned.
func (p *kcatProc) assignment() []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.assigned)
}

func (p *kcatProc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// stop sends SIGTERM, on which kcat commits its offsets and leaves the
// group, and waits for it to exit.
func (p *kcatProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM %s: %v", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Errorf("%s did not exit within 15 s of SIGTERM; stderr:\n%s", p.name, p.stderrText())
		p.cmd.Process.Kill()
		<-p.done
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("%s exited with %v; stderr:\n%s", p.name, err, p.stderrText())
	}
}

// kill ends the process if it has not been waited for (test cleanup).
func (p *kcatProc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		<-p.done
		p.cmd.Wait()
	}
}
