// Package browsertest loads the web console in a real browser, Debian's
// headless Chromium driven by chromedp, against a three-agent cluster with
// traffic and a consumer group, and checks that what each page shows
// matches the admin API (kadm). It is a module of its own so that chromedp
// stays out of silt's go.mod; `make test` runs it.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/console/consoletest"
)

// chromiumFlags are the flags Chromium needs on a machine without a
// display or network: headless, no sandbox (CI runs as root), and none of
// the background connections to Google's services that the closed network
// refuses.
var chromiumFlags = []chromedp.ExecAllocatorOption{
	chromedp.Headless,
	chromedp.NoSandbox,
	chromedp.DisableGPU,
	chromedp.NoFirstRun,
	chromedp.NoDefaultBrowserCheck,
	chromedp.Flag("disable-background-networking", true),
	chromedp.Flag("disable-component-update", true),
	chromedp.Flag("disable-sync", true),
	chromedp.Flag("disable-quic", true),
	chromedp.Flag("disable-dev-shm-usage", true),
	chromedp.WindowSize(1366, 900),
}

// findChromium returns Debian's Chromium, failing the test if it is
// missing: CI installs it (.ci/run), and a console nobody looked at must
// not pass.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is required by the console's browser test (Debian: apt-get install chromium; .ci/run installs it)")
	return ""
}

// profileDir returns an empty directory for Chromium's profile, removed
// after the browser is gone. Not t.TempDir: Chromium's helper processes
// (crashpad, the zygote) can outlive the browser process that chromedp
// waits for and write a file or two more into the profile, so one
// RemoveAll can fail with "directory not empty" (seen under load); this
// retries for a few seconds and then only says what it left.
func profileDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "silt-chromium-profile-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 50 {
			if err = os.RemoveAll(dir); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("left Chromium's profile %s: %v", dir, err)
	})
	return dir
}

// browser starts Chromium with a fresh profile and returns a tab. Any
// uncaught JavaScript exception fails the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append([]chromedp.ExecAllocatorOption{chromedp.ExecPath(findChromium(t)), chromedp.UserDataDir(profileDir(t))}, chromiumFlags...)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancelTab)
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			t.Errorf("JavaScript exception: %s", e.ExceptionDetails.Error())
		}
	})
	// The first Run starts the browser and ties it to its context: no
	// timeout on this one.
	if err := chromedp.Run(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// page is a loaded console page.
type page struct {
	t   *testing.T
	ctx context.Context
}

// open loads url, waits for its main section, checks that it shows no
// error banner, and saves a screenshot named name.
func open(t *testing.T, ctx context.Context, url, name string) page {
	t.Helper()
	p := page{t, ctx}
	p.run(chromedp.Navigate(url), chromedp.WaitVisible("#main", chromedp.ByQuery))
	if n := p.count(".error, .warn, .bad"); n != 0 {
		t.Errorf("%s shows %d error banners: %s", url, n, p.text(".error, .warn, .bad"))
	}
	if name != "" {
		screenshot(t, ctx, name)
	}
	return p
}

func (p page) run(actions ...chromedp.Action) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		p.t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression into out.
func (p page) eval(expr string, out any) {
	p.t.Helper()
	p.run(chromedp.Evaluate(expr, out))
}

func (p page) count(sel string) int {
	p.t.Helper()
	var n int
	p.eval(fmt.Sprintf(`document.querySelectorAll(%q).length`, sel), &n)
	return n
}

// text returns the text of the first element sel matches, or "".
func (p page) text(sel string) string {
	p.t.Helper()
	var s string
	p.eval(fmt.Sprintf(`(document.querySelector(%q) || {textContent: ""}).textContent.trim()`, sel), &s)
	return s
}

// cells returns, for each row sel matches, the text of its data-k cells
// by key and its data- attributes.
func (p page) cells(sel string) []map[string]string {
	p.t.Helper()
	var rows []map[string]string
	p.eval(fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).map(r => {
		const o = Object.assign({}, r.dataset);
		r.querySelectorAll("[data-k]").forEach(c => { o[c.dataset.k] = c.textContent.trim(); Object.assign(o, c.dataset); });
		return o;
	})`, sel), &rows)
	return rows
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.ReplaceAll(s, ",", ""), 10, 64)
	if err != nil {
		t.Fatalf("%q is not a number: %v", s, err)
	}
	return n
}

// TestConsoleInChromium loads every page of the console served by one
// agent of a three-agent cluster and compares what it shows with kadm.
func TestConsoleInChromium(t *testing.T) {
	ctx := browser(t)
	f := consoletest.Start(t, consoletest.Options{ExtraTopics: 120})
	traffic(t, f)
	actx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The console of the agent that does not coordinate the group, so the
	// page shows what it had to ask the coordinator for.
	coordinator := map[string]bool{}
	groups, err := f.Admin.DescribeGroups(actx, consoletest.Group)
	if err != nil {
		t.Fatal(err)
	}
	group := groups[consoletest.Group]
	brokers, err := f.Admin.ListBrokers(actx)
	if err != nil {
		t.Fatal(err)
	}
	coordinator[strconv.Itoa(int(group.Coordinator.NodeID))] = true
	base := ""
	for i, a := range f.Cluster.Agents {
		if !coordinator[strconv.Itoa(int(a.NodeID()))] {
			base = f.HTTP(i)
			break
		}
	}

	t.Run("cluster", func(t *testing.T) {
		// An agent may be an entry or two behind for a moment after the
		// traffic: wait for the health the page is checked for.
		waitHealthy(t, actx, base)
		p := open(t, ctx, base+"/ui/", "cluster")
		if h := p.text("[data-k=health]"); !strings.HasPrefix(h, "Healthy: 3 agents") {
			t.Errorf("health: %q", h)
		}
		rows := p.cells("tr[data-agent]")
		if len(rows) != len(brokers) {
			t.Fatalf("%d agents shown, kadm lists %d brokers", len(rows), len(brokers))
		}
		roles := ""
		for _, r := range rows {
			found := false
			for _, b := range brokers {
				found = found || strconv.Itoa(int(b.NodeID)) == r["node-id"]
			}
			if !found {
				t.Errorf("agent %s shows node id %s, not a broker kadm lists", r["agent"], r["node-id"])
			}
			roles += r["roles"] + " "
		}
		if strings.Count(roles, "committer") != 1 || strings.Count(roles, "compactor") != 1 {
			t.Errorf("roles shown: %q", roles)
		}
		// console.js refreshes the page in place.
		p.run(chromedp.Poll(`document.getElementById("live").textContent.startsWith("live ·")`, nil,
			chromedp.WithPollingTimeout(20*time.Second)))
	})

	t.Run("topics", func(t *testing.T) {
		all, err := f.Admin.ListTopics(actx)
		if err != nil {
			t.Fatal(err)
		}
		p := open(t, ctx, base+"/ui/topics", "topics")
		if got := p.text("[data-k=topic-count]"); got != fmt.Sprintf("%d in all", len(all)) {
			t.Errorf("topic count %q, kadm lists %d", got, len(all))
		}
		if got := p.text("[data-k=page]"); got != fmt.Sprintf("page 1 of %d", (len(all)+49)/50) {
			t.Errorf("pages: %q", got)
		}
		p.run(chromedp.Click(`a[rel=next]`, chromedp.ByQuery), chromedp.WaitVisible(`a[rel=prev]`, chromedp.ByQuery))
		if got := p.text("[data-k=page]"); !strings.HasPrefix(got, "page 2 of") || p.count("tr[data-topic]") != 50 {
			t.Errorf("page 2: %q with %d rows", got, p.count("tr[data-topic]"))
		}
		// The search form works without JavaScript's help: a plain GET.
		p.run(chromedp.SetValue(`input[name=q]`, consoletest.Topic, chromedp.ByQuery), chromedp.Submit(`form.search`, chromedp.ByQuery),
			chromedp.WaitVisible(`[data-k=match-count]`, chromedp.ByQuery))
		rows := p.cells("tr[data-topic]")
		ends, err := f.Admin.ListEndOffsets(actx, consoletest.Topic)
		if err != nil {
			t.Fatal(err)
		}
		starts, err := f.Admin.ListStartOffsets(actx, consoletest.Topic)
		if err != nil {
			t.Fatal(err)
		}
		var records int64
		ends.Each(func(o kadm.ListedOffset) { records += o.Offset })
		starts.Each(func(o kadm.ListedOffset) { records -= o.Offset })
		if len(rows) != 1 || rows[0]["topic"] != consoletest.Topic || rows[0]["partitions"] != strconv.Itoa(consoletest.Partitions) ||
			atoi(t, rows[0]["records"]) != records {
			t.Errorf("search for %s: %v; kadm: %d records", consoletest.Topic, rows, records)
		}
		screenshot(t, ctx, "topics-search")
	})

	t.Run("topic", func(t *testing.T) {
		p := open(t, ctx, base+"/ui/topics/"+consoletest.Topic, "topic")
		starts, err := f.Admin.ListStartOffsets(actx, consoletest.Topic)
		if err != nil {
			t.Fatal(err)
		}
		ends, err := f.Admin.ListEndOffsets(actx, consoletest.Topic)
		if err != nil {
			t.Fatal(err)
		}
		meta, err := f.Admin.Metadata(actx, consoletest.Topic)
		if err != nil {
			t.Fatal(err)
		}
		rows := p.cells("tr[data-partition]")
		if len(rows) != consoletest.Partitions {
			t.Fatalf("%d partitions shown, want %d", len(rows), consoletest.Partitions)
		}
		for _, r := range rows {
			part := int32(atoi(t, r["partition"]))
			s, _ := starts.Lookup(consoletest.Topic, part)
			e, _ := ends.Lookup(consoletest.Topic, part)
			leader := meta.Topics[consoletest.Topic].Partitions[part].Leader
			if atoi(t, r["start"]) != s.Offset || atoi(t, r["end"]) != e.Offset || atoi(t, r["leaderId"]) != int64(leader) {
				t.Errorf("partition %d shows %v; kadm: start %d end %d leader %d", part, r, s.Offset, e.Offset, leader)
			}
		}
	})

	t.Run("records", func(t *testing.T) {
		p := open(t, ctx, base+"/ui/topics/"+consoletest.Topic+"/records?partition=0&offset=5&limit=10", "records")
		rows := p.cells("tr[data-offset]")
		if len(rows) != 10 || rows[0]["offset"] != "5" || rows[0]["key"] != "key-0-5" || rows[0]["value"] != "order 5 of partition 0" {
			t.Fatalf("records from offset 5: %v", rows)
		}
		bin := rows[consoletest.BinaryOffset-5]
		if want := fmt.Sprintf("%x", consoletest.BinaryValue); !strings.HasPrefix(bin["value"], want) || !strings.Contains(bin["value"], "binary") {
			t.Errorf("the binary value shows as %q, want hex %s", bin["value"], want)
		}
		// Reading past the end is an error page, not a blank one.
		e := page{t, ctx}
		e.run(chromedp.Navigate(base+"/ui/topics/"+consoletest.Topic+"/records?offset=9223372036854775807"), chromedp.WaitVisible(".error", chromedp.ByQuery))
		if msg := e.text(".error"); !strings.Contains(msg, "outside the log") {
			t.Errorf("huge offset: %q", msg)
		}
		screenshot(t, ctx, "error")
	})

	t.Run("groups", func(t *testing.T) {
		lags, err := f.Admin.Lag(actx, consoletest.Group)
		if err != nil {
			t.Fatal(err)
		}
		lag := lags[consoletest.Group]
		p := open(t, ctx, base+"/ui/groups", "groups")
		rows := p.cells("tr[data-group]")
		if len(rows) != 2 {
			t.Fatalf("groups shown: %v", rows)
		}
		for _, r := range rows {
			if r["group"] != consoletest.Group {
				continue
			}
			if atoi(t, r["lag"]) != lag.Lag.Total() || r["state"] != group.State || atoi(t, r["members"]) != int64(len(group.Members)) {
				t.Errorf("group row %v; kadm: lag %d state %s members %d", r, lag.Lag.Total(), group.State, len(group.Members))
			}
		}
		p = open(t, ctx, base+"/ui/groups/"+consoletest.Group, "group")
		if got := p.text("[data-k=members]"); got != strconv.Itoa(len(group.Members)) {
			t.Errorf("members %q, kadm %d", got, len(group.Members))
		}
		offsets := p.cells("tr[data-tp]")
		if len(offsets) != consoletest.Partitions {
			t.Fatalf("offsets shown: %v", offsets)
		}
		for _, r := range offsets {
			topic, part, _ := strings.Cut(r["tp"], "/")
			l, _ := lag.Lag.Lookup(topic, int32(atoi(t, part)))
			if atoi(t, r["committed"]) != l.Commit.At || atoi(t, r["end"]) != l.End.Offset || atoi(t, r["lag"]) != l.Lag {
				t.Errorf("%s shows %v; kadm: committed %d end %d lag %d", r["tp"], r, l.Commit.At, l.End.Offset, l.Lag)
			}
		}
	})

	t.Run("bucket", func(t *testing.T) {
		want := map[string]int64{}
		for o, err := range f.Cluster.Bucket.List(actx, "", "") {
			if err != nil {
				t.Fatal(err)
			}
			kind, _, _ := strings.Cut(o.Key, "/")
			want[kind]++
		}
		p := open(t, ctx, base+"/ui/bucket", "bucket")
		for _, r := range p.cells("tr[data-kind]") {
			if r["kind"] == "other" {
				continue
			}
			if atoi(t, r["objects"]) != want[r["kind"]] {
				t.Errorf("%s: %s objects shown, the bucket holds %d", r["kind"], r["objects"], want[r["kind"]])
			}
		}
		if usd := p.text("[data-k=total-usd]"); !strings.HasPrefix(usd, "$") {
			t.Errorf("month's estimate: %q", usd)
		}
		if p.count("tr[data-op]") == 0 {
			t.Error("no object-store request rates shown")
		}
		if n := p.count("tr[data-activity=export]"); n != consoletest.Partitions {
			t.Errorf("the compactor's work shows %d exports, want one a partition (%d)", n, consoletest.Partitions)
		}
	})
}

// waitHealthy waits until the console at base reports the cluster healthy.
func waitHealthy(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	for {
		var v struct {
			Healthy  bool
			Problems []string
		}
		resp, err := http.Get(base + "/api/v1/cluster")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
		}
		if err == nil && v.Healthy {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the cluster is not healthy: %v %v", err, v.Problems)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// traffic runs a second group on a second topic for a few sample
// intervals, so the charts have something to draw, and stops it before the
// pages are compared with kadm.
func traffic(t *testing.T, f *consoletest.Fixture) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := f.Admin.CreateTopic(ctx, 2, 1, nil, "clicks"); err != nil {
		t.Fatal(err)
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(f.Cluster.Seeds()...), kgo.ConsumerGroup("analytics"),
		kgo.ConsumeTopics("clicks"), kgo.ClientID("analytics-app"), kgo.AutoCommitInterval(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
			consumer.PollFetches(pctx)
			pcancel()
		}
	}()
	// Four sample intervals of the console's sampler (5s), and a little,
	// so the charts have a few points.
	end := time.Now().Add(22 * time.Second)
	for i := 0; time.Now().Before(end); i++ {
		r := &kgo.Record{Topic: "clicks", Partition: int32(i % 2), Value: fmt.Appendf(nil, "click %d", i)}
		if err := f.Client.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	consumer.CommitUncommittedOffsets(ctx)
	cancel()
	<-done
}
