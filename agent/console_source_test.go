package agent_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/console"
	"github.com/silt-io/silt/console/consoletest"
	"github.com/silt-io/silt/localstack"
	"github.com/silt-io/silt/localstack/localstacktest"
)

// getJSON GETs a console endpoint, checks the status and decodes the body.
func getJSON(t *testing.T, u string, status int, out any) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("GET %s: status %d, want %d: %s", u, resp.StatusCode, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("GET %s: %v\n%s", u, err, b)
		}
	}
	return string(b)
}

// Every /api/v1 endpoint of every agent of a three-agent cluster answers
// what the admin API (kadm) answers: the members, the topic's offsets, the
// group's members and lag, the records as produced (a binary one among
// them), the bucket's objects; and bad input gets a clear error.
func TestConsoleAPIMatchesAdmin(t *testing.T) {
	f := consoletest.Start(t, consoletest.Options{ExtraTopics: 3})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	brokers, err := f.Admin.ListBrokers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := f.Admin.ListEndOffsets(ctx, consoletest.Topic)
	if err != nil {
		t.Fatal(err)
	}
	starts, err := f.Admin.ListStartOffsets(ctx, consoletest.Topic)
	if err != nil {
		t.Fatal(err)
	}
	lags, err := f.Admin.Lag(ctx, consoletest.Group)
	if err != nil {
		t.Fatal(err)
	}
	lag := lags[consoletest.Group]
	if lag.Error() != nil {
		t.Fatal(lag.Error())
	}
	for i := range f.Cluster.Agents {
		base := f.HTTP(i)
		t.Run(fmt.Sprintf("agent-%d", i), func(t *testing.T) {
			var cv console.ClusterView
			getJSON(t, base+"/api/v1/cluster", 200, &cv)
			if len(cv.Agents) != len(brokers) || !cv.Healthy {
				t.Errorf("cluster: %d agents (kadm: %d brokers), healthy %v %v", len(cv.Agents), len(brokers), cv.Healthy, cv.Problems)
			}
			committers, compactors := 0, 0
			for _, a := range cv.Agents {
				if !slices.Contains(brokers.NodeIDs(), a.NodeID) {
					t.Errorf("agent %s has node id %d, which kadm does not list", a.Name, a.NodeID)
				}
				if a.Committer {
					committers++
				}
				if a.Compactor {
					compactors++
				}
				if a.Report == nil || !a.Report.Status.Ready {
					t.Errorf("agent %s has no report: %s", a.Name, a.Error)
				}
			}
			if committers != 1 || compactors != 1 {
				t.Errorf("%d committers and %d compactors, want one of each", committers, compactors)
			}

			var tv console.TopicView
			getJSON(t, base+"/api/v1/topics/"+consoletest.Topic, 200, &tv)
			if len(tv.PartitionDetail) != consoletest.Partitions {
				t.Fatalf("topic has %d partitions, want %d", len(tv.PartitionDetail), consoletest.Partitions)
			}
			for _, p := range tv.PartitionDetail {
				want, _ := ends.Lookup(consoletest.Topic, p.Partition)
				start, _ := starts.Lookup(consoletest.Topic, p.Partition)
				if p.EndOffset != want.Offset || p.StartOffset != start.Offset || p.Chunks == 0 || p.Bytes == 0 {
					t.Errorf("partition %d: %+v, kadm start offset %d, end offset %d", p.Partition, p, start.Offset, want.Offset)
				}
				leader := -1
				for _, b := range brokers {
					if b.NodeID == p.LeaderID {
						leader = int(b.NodeID)
					}
				}
				if p.Exported != want.Offset || p.ExportTime.IsZero() {
					t.Errorf("partition %d is exported to %d at %v, want all %d", p.Partition, p.Exported, p.ExportTime, want.Offset)
				}
				if leader < 0 || p.Leader == "" {
					t.Errorf("partition %d leader %q (%d) is not a broker", p.Partition, p.Leader, p.LeaderID)
				}
			}

			var topics console.TopicsView
			getJSON(t, base+"/api/v1/topics?per_page=2&page=2", 200, &topics)
			if topics.All != 4 || topics.Pages != 2 || len(topics.Topics) != 2 || topics.Topics[1].Name != consoletest.Topic {
				t.Errorf("topics page 2 of 2 per page: %+v", topics)
			}

			var gv console.GroupView
			getJSON(t, base+"/api/v1/groups/"+consoletest.Group, 200, &gv)
			if gv.Members == nil || len(gv.Members.Members) != 1 || gv.Members.State != "Stable" || gv.Members.Members[0].ClientID != "billing-app" {
				t.Fatalf("group from agent %d: members %+v (error %q)", i, gv.Members, gv.MembersError)
			}
			if gv.Lag != lag.Lag.Total() || len(gv.Offsets) != consoletest.Partitions {
				t.Errorf("group lag %d over %d partitions, kadm %d", gv.Lag, len(gv.Offsets), lag.Lag.Total())
			}
			for _, o := range gv.Offsets {
				k, _ := lag.Lag.Lookup(o.Topic, o.Partition)
				if o.Committed != k.Commit.At || o.End != k.End.Offset || o.Lag != k.Lag || o.Member != "billing-app" {
					t.Errorf("offset %s/%d: %+v, kadm commit %d end %d lag %d", o.Topic, o.Partition, o, k.Commit.At, k.End.Offset, k.Lag)
				}
			}
			var groups console.GroupsView
			getJSON(t, base+"/api/v1/groups", 200, &groups)
			if len(groups.Groups) != 1 || groups.Groups[0].Lag != lag.Lag.Total() || groups.Groups[0].Members != 1 || len(groups.Errors) != 0 {
				t.Errorf("groups: %+v", groups)
			}

			var rv console.RecordsView
			getJSON(t, base+"/api/v1/topics/orders/partitions/0/records?offset=5&limit=5", 200, &rv)
			if len(rv.Records) != 5 || rv.Records[0].Offset != 5 || rv.Next != 10 {
				t.Fatalf("records from 5: %+v", rv)
			}
			bin := rv.Records[consoletest.BinaryOffset-5]
			if bin.Value.Encoding != "base64" || bin.Value.Data != base64.StdEncoding.EncodeToString(consoletest.BinaryValue) ||
				len(bin.Headers) != 1 || bin.Headers[0].Value.Data != "console-test" {
				t.Errorf("binary record: %+v", bin)
			}
			if k := rv.Records[0].Key; k.Encoding != "utf-8" || k.Data != "key-0-5" {
				t.Errorf("key of offset 5: %+v", k)
			}
			var byTime console.RecordsView
			getJSON(t, base+"/api/v1/topics/orders/partitions/1/records?time="+url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), 200, &byTime)
			if byTime.From != consoletest.PerPartition || len(byTime.Records) != 0 {
				t.Errorf("a time past every record reads from %d, want the end %d", byTime.From, consoletest.PerPartition)
			}
			getJSON(t, base+"/api/v1/topics/orders/partitions/1/records?time=0&limit=1", 200, &byTime)
			if byTime.From != 0 || len(byTime.Records) != 1 {
				t.Errorf("time 0 reads from %d", byTime.From)
			}
			// A truncated partition: time 0 finds its log start, its
			// default read starts there, and below it is out of range.
			getJSON(t, base+"/api/v1/topics/orders/partitions/2/records?time=0&limit=1", 200, &byTime)
			if byTime.From != consoletest.TruncatedStart || byTime.StartOffset != consoletest.TruncatedStart || byTime.Records[0].Offset != consoletest.TruncatedStart {
				t.Errorf("time 0 on the truncated partition: %+v", byTime)
			}
			getJSON(t, base+"/api/v1/topics/orders/partitions/2/records?time="+url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), 200, &byTime)
			if byTime.From != consoletest.PerPartition || byTime.StartOffset != consoletest.TruncatedStart || len(byTime.Records) != 0 {
				t.Errorf("a time past every record on the truncated partition: %+v", byTime)
			}
			getJSON(t, base+"/api/v1/topics/orders/partitions/2/records?limit=1", 200, &byTime)
			if byTime.From != consoletest.TruncatedStart || len(byTime.Records) != 1 {
				t.Errorf("the truncated partition's default read: %+v", byTime)
			}

			var bv console.BucketView
			getJSON(t, base+"/api/v1/bucket", 200, &bv)
			kinds := map[string]int64{}
			for o, err := range f.Cluster.Bucket.List(ctx, "", "") {
				if err != nil {
					t.Fatal(err)
				}
				kinds[strings.Split(o.Key, "/")[0]]++
			}
			for _, k := range bv.Kinds {
				if (k.Kind == "journal" || k.Kind == "export") && (k.Objects == 0 || k.Objects > kinds[k.Kind]) {
					t.Errorf("%s objects %d, the bucket holds %d", k.Kind, k.Objects, kinds[k.Kind])
				}
			}
			exported := int64(0)
			for _, a := range bv.CompactorActivity {
				if a.Stage == "export" && a.Topic == consoletest.Topic {
					exported += a.Records
				}
			}
			// Every record written, less those deleted before the export.
			if want := int64(consoletest.Partitions*consoletest.PerPartition - consoletest.TruncatedStart); exported != want ||
				bv.Storage.LastExport.IsZero() || bv.Storage.ExportedOffsets != consoletest.Partitions*consoletest.PerPartition {
				t.Errorf("what the compactor did: %d records exported, want %d; %+v; %+v", exported, want, bv.CompactorActivity, bv.Storage)
			}
			if len(bv.Requests) == 0 || bv.Cost.TotalUSD <= 0 {
				t.Errorf("no request counts or cost: %+v %+v", bv.Requests, bv.Cost)
			}

			for _, bad := range []struct {
				path   string
				status int
				want   string
			}{
				{"/api/v1/topics/nope", 404, `topic \"nope\" does not exist`},
				{"/api/v1/topics/nope/partitions/0/records", 404, "does not exist"},
				{"/api/v1/topics/orders/partitions/3/records", 404, "no partition 3"},
				{"/api/v1/topics/orders/partitions/0/records?offset=41", 416, `"end_offset":40`},
				{"/api/v1/topics/orders/partitions/2/records?offset=4", 416, `"start_offset":5`},
				{"/api/v1/topics/orders/partitions/0/records?offset=9223372036854775807", 416, "outside the log"},
				{"/api/v1/topics/orders/partitions/0/records?offset=18446744073709551616", 400, "want a whole number"},
				{"/api/v1/topics/%ff/partitions/0/records", 400, "not valid UTF-8"},
				{"/api/v1/groups/%c3%28", 400, "not valid UTF-8"},
				{"/api/v1/groups/nobody", 404, "no members and no committed offsets"},
			} {
				if body := getJSON(t, base+bad.path, bad.status, nil); !strings.Contains(body, bad.want) {
					t.Errorf("%s: %s lacks %q", bad.path, body, bad.want)
				}
			}
		})
	}
	// A KIP-848 group (the consumer protocol): its members and their
	// assignments come from ConsumerGroupDescribe.
	m, err := kgo.NewClient(kgo.SeedBrokers(f.Cluster.Seeds()...), kgo.ConsumerGroup("kip848"), kgo.ServerSideBalancer(),
		kgo.ConsumeTopics(consoletest.Topic), kgo.ClientID("kip848-app"), kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for len(m.UncommittedOffsets()[consoletest.Topic]) < consoletest.Partitions {
		if ctx.Err() != nil {
			t.Fatal("the KIP-848 member got no assignment")
		}
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		m.PollFetches(pctx)
		pcancel()
	}
	described, err := f.Admin.DescribeConsumerGroups(ctx, "kip848")
	if err != nil {
		t.Fatal(err)
	}
	for i := range f.Cluster.Agents {
		var gv console.GroupView
		getJSON(t, f.HTTP(i)+"/api/v1/groups/kip848", 200, &gv)
		want := described["kip848"]
		if gv.Members == nil || gv.Members.Type != "consumer" || gv.Members.State != want.State || len(gv.Members.Members) != len(want.Members) ||
			gv.Members.Members[0].ClientID != "kip848-app" || len(gv.Members.Members[0].Assignment) != 1 ||
			len(gv.Members.Members[0].Assignment[0].Partitions) != consoletest.Partitions {
			t.Errorf("KIP-848 group from agent %d: %+v (error %q); kadm: %+v", i, gv.Members, gv.MembersError, want)
		}
	}
	// The agents still serve Kafka clients after all that.
	if _, err := f.Admin.ListEndOffsets(ctx, consoletest.Topic); err != nil {
		t.Fatal(err)
	}
}

// The console pages and searches 10,000 topics of a real agent quickly.
func TestConsoleTenThousandTopics(t *testing.T) {
	c := localstacktest.StartT(t, localstack.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	const n = 10000
	start := time.Now()
	for from := 0; from < n; from += 1000 {
		var names []string
		for i := from; i < from+1000; i++ {
			names = append(names, fmt.Sprintf("topic-%05d", i))
		}
		resp, err := adm.CreateTopics(ctx, 1, 1, nil, names...)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("created %d topics in %v", n, time.Since(start).Round(time.Millisecond))
	base := "http://" + c.Agents[0].HTTPAddr()
	for _, tc := range []struct {
		path        string
		total, rows int
		first       string
	}{
		{"/api/v1/topics?page=200", n, 50, "topic-09950"},
		{"/api/v1/topics?q=TOPIC-0999&per_page=5", 10, 5, "topic-09990"},
		{"/api/v1/topics?q=no-such", 0, 0, ""},
	} {
		start := time.Now()
		var v console.TopicsView
		getJSON(t, base+tc.path, 200, &v)
		took := time.Since(start)
		if v.Total != tc.total || len(v.Topics) != tc.rows || (tc.rows > 0 && v.Topics[0].Name != tc.first) {
			t.Errorf("%s: total %d, %d rows, first %+v", tc.path, v.Total, len(v.Topics), v.Topics)
		}
		if took > 2*time.Second {
			t.Errorf("%s took %v", tc.path, took)
		}
		t.Logf("%s: %v", tc.path, took.Round(time.Microsecond))
	}
	start = time.Now()
	body := getJSON(t, base+"/ui/topics?page=200", 200, nil)
	if strings.Count(body, "data-topic=") != 50 || !strings.Contains(body, "page 200 of 200") {
		t.Errorf("page 200 of the topic list:\n%s", body)
	}
	t.Logf("/ui/topics?page=200: %v", time.Since(start).Round(time.Microsecond))
}
