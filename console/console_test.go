package console

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func newTestServer(t *testing.T, src Source) *httptest.Server {
	t.Helper()
	s, err := New(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// expect GETs url and checks the status and that the body holds each of
// want; it returns the body.
func expect(t *testing.T, url string, status int, want []string) string {
	t.Helper()
	code, body := get(t, url)
	if code != status {
		t.Fatalf("status %d, want %d: %s", code, status, body)
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("body lacks %q:\n%s", w, body)
		}
	}
	return body
}

// Every /api/v1 endpoint answers its data, and bad input a clear error
// with the right status.
func TestAPI(t *testing.T) {
	srv := newTestServer(t, newFake("agent-0"))
	for _, tc := range []struct {
		path   string
		status int
		want   []string // substrings of the body
		check  func(t *testing.T, body map[string]any)
	}{
		{path: "/api/v1/cluster", status: 200, want: []string{`"cluster_id": "c1"`, `"healthy": true`, `"committer": true`, `"uptime_seconds": 9`}},
		{path: "/api/v1/agent", status: 200, want: []string{`"journal_seq": 42`, `"PUT": 10`}},
		{path: "/api/v1/topics", status: 200, want: []string{`"all": 2`, `"total": 2`, `"name": "clicks"`, `"name": "orders"`}},
		{path: "/api/v1/topics?q=ORD", status: 200, want: []string{`"total": 1`, `"name": "orders"`}},
		{path: "/api/v1/topics?per_page=1&page=2", status: 200, check: func(t *testing.T, b map[string]any) {
			topics := b["topics"].([]any)
			if len(topics) != 1 || topics[0].(map[string]any)["name"] != "orders" || b["pages"].(float64) != 2 {
				t.Errorf("page 2 of 1 per page: %v", b)
			}
		}},
		{path: "/api/v1/topics?page=9", status: 200, want: []string{`"topics": []`}},
		{path: "/api/v1/topics?page=0", status: 400, want: []string{`page=\"0\": want a whole number from 1`}},
		{path: "/api/v1/topics?per_page=100000", status: 400, want: []string{"per_page"}},
		{path: "/api/v1/topics?q=%ff", status: 400, want: []string{"not valid UTF-8"}},
		{path: "/api/v1/topics/orders", status: 200, want: []string{`"end_offset": 4`, `"leader": "agent-0"`, `"group": "billing"`}},
		{path: "/api/v1/topics/nope", status: 404, want: []string{"unknown topic"}},
		{path: "/api/v1/topics/%ff%fe", status: 400, want: []string{"topic name is not valid UTF-8"}},
		{path: "/api/v1/topics/bad%20name", status: 400, want: []string{"not a valid topic name"}},
		{path: "/api/v1/topics/" + strings.Repeat("a", 250), status: 400, want: []string{"not a valid topic name"}},
		{path: "/api/v1/topics/orders/partitions/0/records", status: 200, check: func(t *testing.T, b map[string]any) {
			recs := b["records"].([]any)
			if len(recs) != 4 {
				t.Fatalf("got %d records, want 4", len(recs))
			}
			r0, r1, r2 := recs[0].(map[string]any), recs[1].(map[string]any), recs[2].(map[string]any)
			if v := r0["value"].(map[string]any); v["encoding"] != "utf-8" || v["data"] != "hello" {
				t.Errorf("record 0 value %v", v)
			}
			if v := r1["value"].(map[string]any); v["encoding"] != "base64" || v["data"] != "//4A" || r1["key"] != nil {
				t.Errorf("record 1 (binary value, null key) %v", r1)
			}
			if r2["value"] != nil || len(r2["headers"].([]any)) != 1 {
				t.Errorf("record 2 (null value, a header) %v", r2)
			}
			if b["next"].(float64) != 4 || b["end_offset"].(float64) != 4 {
				t.Errorf("next %v end %v", b["next"], b["end_offset"])
			}
		}},
		{path: "/api/v1/topics/orders/partitions/0/records?offset=2&limit=1", status: 200, check: func(t *testing.T, b map[string]any) {
			recs := b["records"].([]any)
			if len(recs) != 1 || recs[0].(map[string]any)["offset"].(float64) != 2 || b["next"].(float64) != 3 {
				t.Errorf("offset 2, limit 1: %v", b)
			}
		}},
		{path: "/api/v1/topics/orders/partitions/0/records?time=2500", status: 200, check: func(t *testing.T, b map[string]any) {
			if b["from"].(float64) != 2 {
				t.Errorf("time 2500 reads from %v, want 2", b["from"])
			}
		}},
		{path: "/api/v1/topics/orders/partitions/0/records?time=1970-01-01T00:00:03Z", status: 200, want: []string{`"from": 2`}},
		{path: "/api/v1/topics/orders/partitions/0/records?offset=4", status: 200, want: []string{`"records": []`, `"from": 4`}},
		{path: "/api/v1/topics/orders/partitions/0/records?offset=99999999999999999999", status: 400, want: []string{"offset=", "want a whole number from 0 to 9223372036854775807"}},
		{path: "/api/v1/topics/orders/partitions/0/records?offset=9223372036854775807", status: 416, want: []string{"outside the log", `"start_offset":0`, `"end_offset":4`}},
		{path: "/api/v1/topics/orders/partitions/0/records?offset=-1", status: 400, want: []string{"offset="}},
		{path: "/api/v1/topics/orders/partitions/0/records?time=yesterday", status: 400, want: []string{"RFC 3339"}},
		{path: "/api/v1/topics/orders/partitions/0/records?limit=0", status: 400, want: []string{"limit="}},
		{path: "/api/v1/topics/orders/partitions/0/records?limit=501", status: 400, want: []string{"limit="}},
		{path: "/api/v1/topics/orders/partitions/5/records", status: 404, want: []string{"no partition 5"}},
		{path: "/api/v1/topics/orders/partitions/x/records", status: 400, want: []string{"partition"}},
		{path: "/api/v1/topics/orders/partitions/99999999999/records", status: 400, want: []string{"partition"}},
		{path: "/api/v1/topics/nope/partitions/0/records", status: 404, want: []string{"unknown topic"}},
		{path: "/api/v1/groups", status: 200, want: []string{`"name": "billing"`, `"lag": 3`, `"partitions": 2`, `"coordinator": "agent-0"`, `"errors": []`}},
		{path: "/api/v1/groups?scope=local", status: 200, want: []string{`"name": "billing"`, `"state": "Stable"`}},
		{path: "/api/v1/groups/billing", status: 200, want: []string{`"member": "billing-app"`, `"lag": 3`, `"protocol": "range"`}},
		{path: "/api/v1/groups/nope", status: 404, want: []string{"no members and no committed offsets"}},
		{path: "/api/v1/groups/%ff", status: 400, want: []string{"not valid UTF-8"}},
		{path: "/api/v1/groups/nope?scope=local", status: 404, want: []string{"not in this agent's memory"}},
		{path: "/api/v1/bucket", status: 200, check: func(t *testing.T, b map[string]any) {
			want := map[string][2]float64{"journal": {2, 150}, "snapshots": {0, 0}, "segments": {1, 4000}, "export": {1, 700}, "other": {1, 1}}
			for _, k := range b["kinds"].([]any) {
				k := k.(map[string]any)
				w := want[k["kind"].(string)]
				if k["objects"].(float64) != w[0] || k["bytes"].(float64) != w[1] {
					t.Errorf("kind %v: got %v objects %v bytes, want %v", k["kind"], k["objects"], k["bytes"], w)
				}
			}
			if b["total_bytes"].(float64) != 4851 || b["total_objects"].(float64) != 5 {
				t.Errorf("totals %v %v", b["total_objects"], b["total_bytes"])
			}
			if b["cost"].(map[string]any)["storage_bytes"].(float64) != 4851 {
				t.Errorf("cost %v", b["cost"])
			}
		}},
		{path: "/api/v1/nothing", status: 404, want: []string{"no API endpoint GET /api/v1/nothing"}},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/api/v1/"), func(t *testing.T) {
			body := expect(t, srv.URL+tc.path, tc.status, tc.want)
			var decoded any
			if err := json.Unmarshal([]byte(body), &decoded); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, body)
			}
			if tc.status >= 400 {
				if e := decoded.(map[string]any); e["error"] == "" || e["status"].(float64) != float64(tc.status) {
					t.Errorf("error body %v", e)
				}
			}
			if tc.check != nil {
				tc.check(t, decoded.(map[string]any))
			}
		})
	}
}

// An agent still replaying its journal answers 503 with why.
func TestAPINotReady(t *testing.T) {
	f := newFake("agent-0")
	f.notReady = true
	srv := newTestServer(t, f)
	for _, p := range []string{"/api/v1/cluster", "/api/v1/topics", "/api/v1/groups", "/ui/"} {
		code, body := get(t, srv.URL+p)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "journal is not replayed yet") {
			t.Errorf("%s: %d %s", p, code, body)
		}
	}
}

// Every page renders its essentials on the server (readable without
// JavaScript), escapes what records hold, and answers the refresh's
// fragment request with the main section alone.
func TestPages(t *testing.T) {
	srv := newTestServer(t, newFake("agent-0"))
	for _, tc := range []struct {
		path   string
		status int
		want   []string
	}{
		{"/ui/", 200, []string{"Healthy: 1 agent, all ready", "agent-0", "committer", `data-refresh="5000"`, `href="/api/v1/cluster"`}},
		{"/ui/topics", 200, []string{`data-topic="orders"`, `data-topic="clicks"`, "2 in all", "7d"}},
		{"/ui/topics?q=click", 200, []string{`data-topic="clicks"`, "1 match"}},
		{"/ui/topics?per_page=1", 200, []string{"page 1 of 2", `href="/ui/topics?page=2&amp;per_page=1"`}},
		{"/ui/topics/orders", 200, []string{`<td data-k="end">4</td>`, "Browse records", "billing"}},
		{"/ui/topics/orders/records", 200, []string{"hello", "fffe00", "binary", `<span class="null">null</span>`, "&lt;script&gt;alert(1)&lt;/script&gt;"}},
		{"/ui/topics/orders/records?format=hex&limit=1", 200, []string{"68656c6c6f", `next records`}},
		{"/ui/topics/orders/records?offset=99", 416, []string{`class="error"`, "outside the log"}},
		{"/ui/groups", 200, []string{`data-group="billing"`, `<td data-k="lag">3</td>`}},
		{"/ui/groups/billing", 200, []string{"billing-app", "range", `<td data-k="lag">3</td>`}},
		{"/ui/bucket", 200, []string{`data-kind="segments"`, "Estimated month", "S3 Standard list prices", `<tr data-activity="merge">`}},
		{"/ui/topics/nope", 404, []string{`class="error"`, "unknown topic"}},
		{"/ui/nothing", 404, []string{`class="error"`, "no console page"}},
		{"/ui/static/console.js", 200, []string{"X-Console-Fragment"}},
		{"/ui/static/console.css", 200, []string{".spark"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			body := expect(t, srv.URL+tc.path, tc.status, tc.want)
			if strings.Contains(body, "<script>alert") {
				t.Error("a record's value reached the page unescaped")
			}
		})
	}
	code, body := get(t, srv.URL+"/ui/topics", "X-Console-Fragment", "1")
	if code != 200 || strings.Contains(body, "<html") || !strings.Contains(body, `data-topic="orders"`) {
		t.Errorf("fragment: %d %s", code, body)
	}
	resp, err := http.Get(srv.URL + "/ui")
	if err != nil || resp.Request.URL.Path != "/ui/" {
		t.Errorf("/ui does not lead to /ui/: %v %v", err, resp.Request.URL)
	}
}

// The console on one agent shows what only the others know: their status,
// and the members of the groups they coordinate.
func TestPeers(t *testing.T) {
	a, b := newFake("agent-a"), newFake("agent-b")
	b.cluster.JournalSeq, b.status.JournalSeq, b.status.JournalKnown = 41, 41, 42
	delete(a.groups, "billing")
	b.groups["billing"] = GroupMembers{GroupSummary: GroupSummary{Name: "billing", State: "Stable", Type: "consumer", Members: 1},
		Members: []Member{{ID: "m-b", ClientID: "from-b", Assignment: []TopicPartitions{{Topic: "orders", Partitions: []int32{0}}}}}}
	srvA, srvB := newTestServer(t, a), newTestServer(t, b)
	members := []Agent{
		{Name: "agent-a", InternalAddr: strings.TrimPrefix(srvA.URL, "http://"), Committer: true},
		{Name: "agent-b", InternalAddr: strings.TrimPrefix(srvB.URL, "http://"), Compactor: true},
		{Name: "agent-c", InternalAddr: "127.0.0.1:1"}, // nothing listens
	}
	a.cluster.Members, b.cluster.Members = members, members
	a.coord["billing"], b.coord["billing"] = "agent-b", "agent-b"

	_, body := get(t, srvA.URL+"/api/v1/cluster")
	var cv ClusterView
	if err := json.Unmarshal([]byte(body), &cv); err != nil {
		t.Fatal(err)
	}
	if cv.Healthy || len(cv.Agents) != 3 || cv.Agents[1].Report == nil || cv.Agents[1].JournalLag != 1 || cv.Agents[2].Error == "" {
		t.Errorf("cluster from agent-a: %s", body)
	}
	if !strings.Contains(body, "agent-b is 1 journal entries behind") || !strings.Contains(body, "agent-c does not answer") {
		t.Errorf("problems not reported: %s", body)
	}
	_, body = get(t, srvA.URL+"/api/v1/groups")
	if !strings.Contains(body, `"coordinator": "agent-b"`) || !strings.Contains(body, `"state": "Stable"`) || !strings.Contains(body, "agent-c") {
		t.Errorf("groups from agent-a: %s", body)
	}
	_, body = get(t, srvA.URL+"/api/v1/groups/billing")
	if !strings.Contains(body, `"client_id": "from-b"`) || !strings.Contains(body, `"member": "from-b"`) {
		t.Errorf("group from agent-a: %s", body)
	}
}

// The sampler turns counters into rates and keeps bounded histories.
func TestSampler(t *testing.T) {
	f := newFake("agent-0")
	s := newSampler(f, time.Second, 3)
	t0 := time.Unix(1000, 0)
	s.sample(t0)
	for i := 1; i <= 5; i++ {
		f.mu.Lock()
		f.counters.ProduceBytes += 2000
		f.counters.Requests["PUT"] += 4
		f.mu.Unlock()
		o := f.topics["orders"]
		o.End += 10
		f.topics["orders"] = o
		s.sample(t0.Add(time.Duration(2*i) * time.Second))
	}
	r, h := s.agentRates()
	if r.ProduceBytes != 1000 || r.Requests["PUT"] != 2 || len(h.ProduceBytes) != 3 {
		t.Errorf("rates %+v history %+v", r, h)
	}
	if avg := s.averageRequests(); avg["PUT"] != 2 || avg["GET"] != 0 {
		t.Errorf("average %v", avg)
	}
	produced, consumed := s.topic("orders")
	if len(produced) != 3 || produced[2] != 5 || consumed[2] != 0 {
		t.Errorf("orders produced %v consumed %v", produced, consumed)
	}
	if lag := s.lag("billing", "orders", 0); len(lag) != 3 || lag[2] != 3 {
		t.Errorf("lag %v", lag)
	}
	delete(f.topics, "orders")
	s.sample(t0.Add(20 * time.Second))
	if p, _ := s.topic("orders"); p != nil {
		t.Errorf("a deleted topic keeps its series: %v", p)
	}
}

func TestEstimateCost(t *testing.T) {
	c := estimateCost(100e9, map[string]float64{"PUT": 1, "GET": 10, "DELETE": 5})
	month := float64(secondsPerMonth)
	want := 100*0.023 + month*0.005/1000 + 10*month*0.0004/1000
	if math.Abs(c.TotalUSD-want) > 1e-6 || c.StorageUSD != 2.3 {
		t.Errorf("cost %+v, want total %v", c, want)
	}
	if len(c.Requests) != 3 || c.Requests[0].Op != "DELETE" || c.Requests[0].MonthlyUSD != 0 {
		t.Errorf("requests %+v", c.Requests)
	}
}

func TestGatherCounters(t *testing.T) {
	reg := prometheus.NewRegistry()
	produced := prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_produce_bytes_total"})
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "silt_objstore_requests_total"}, []string{"op"})
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "silt_objstore_bytes_total"}, []string{"direction"})
	reg.MustRegister(produced, reqs, bytes)
	produced.Add(123)
	reqs.WithLabelValues("PUT").Add(3)
	reqs.WithLabelValues("GET").Add(5)
	bytes.WithLabelValues("out").Add(77)
	c, err := GatherCounters(reg)
	if err != nil {
		t.Fatal(err)
	}
	if c.ProduceBytes != 123 || c.Requests["PUT"] != 3 || c.Requests["GET"] != 5 || c.BucketBytesOut != 77 || c.FetchBytes != 0 {
		t.Errorf("counters %+v", c)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{formatNum(int64(1234567)), "1,234,567"},
		{formatNum(int64(-1000)), "-1,000"},
		{formatNum(12), "12"},
		{formatBytes(int64(512)), "512 B"},
		{formatBytes(int64(3 << 20)), "3.0 MiB"},
		{formatRate(0), "0/s"},
		{formatRate(2.5), "2.50/s"},
		{formatRate(1500), "1.5k/s"},
		{formatMs(604800000), "7d"},
		{formatMs(-1), "unlimited"},
		{formatUptime(90), "1m30s"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if s := string(sparkline([]float64{0, 1, 2})); !strings.Contains(s, "<polyline") || !strings.Contains(s, "0.0,23.0") {
		t.Errorf("sparkline %s", s)
	}
}

// What the console asks other agents on a request's behalf carries the
// request's credentials, so that it passes their guard as the request
// passed this agent's (agent/http_auth.go).
func TestPeersCarryTheCredentials(t *testing.T) {
	a, b := newFake("agent-a"), newFake("agent-b")
	delete(a.groups, "billing")
	b.groups["billing"] = GroupMembers{GroupSummary: GroupSummary{Name: "billing", State: "Stable", Type: "consumer", Members: 1},
		Members: []Member{{ID: "m-b", ClientID: "from-b"}}}
	srvA := newTestServer(t, a)
	s, err := New(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const auth = "Basic YWRtaW46YWRtaW4tc2VjcmV0"
	srvB := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != auth {
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(srvB.Close)
	members := []Agent{
		{Name: "agent-a", InternalAddr: strings.TrimPrefix(srvA.URL, "http://")},
		{Name: "agent-b", InternalAddr: strings.TrimPrefix(srvB.URL, "http://")},
	}
	a.cluster.Members, b.cluster.Members = members, members
	a.coord["billing"], b.coord["billing"] = "agent-b", "agent-b"

	if _, body := get(t, srvA.URL+"/api/v1/groups/billing", "Authorization", auth); !strings.Contains(body, `"client_id": "from-b"`) {
		t.Errorf("with credentials, the group from agent-a: %s", body)
	}
	if _, body := get(t, srvA.URL+"/api/v1/groups/billing"); strings.Contains(body, `"client_id": "from-b"`) {
		t.Errorf("without credentials agent-b answered: %s", body)
	}
}
