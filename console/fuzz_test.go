package console

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzAPI sends the record browser, the topic list and the group page any
// bytes as names and parameters: every answer is JSON, an error answers
// with its message, and nothing is a 500 (bad input is the client's).
func FuzzAPI(f *testing.F) {
	f.Add("orders", "0", "5", "", "10", "billing", "ord", "1")
	f.Add("orders", "1", "", "1970-01-01T00:00:03Z", "", "nope", "", "")
	f.Add("\xff", "-1", "99999999999999999999", "yesterday", "0", "\xc3\x28", "\x00", "0")
	f.Add("a/b", "2147483648", "9223372036854775807", "-5", "501", "..", "%", "-3")
	s, err := New(newFake("agent-0"), Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, topic, partition, offset, when, limit, group, q, page string) {
		for _, u := range []string{
			"/api/v1/topics/" + url.PathEscape(topic) + "/partitions/" + url.PathEscape(partition) + "/records?" +
				url.Values{"offset": {offset}, "time": {when}, "limit": {limit}}.Encode(),
			"/api/v1/topics?" + url.Values{"q": {q}, "page": {page}, "per_page": {limit}}.Encode(),
			"/api/v1/topics/" + url.PathEscape(topic),
			"/api/v1/groups/" + url.PathEscape(group),
		} {
			req := httptest.NewRequest(http.MethodGet, "http://console"+u, nil)
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code >= 300 && rec.Code < 400 {
				continue // the mux cleaning a path such as /a/../b
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("%s: %d, not JSON: %v\n%s", u, rec.Code, err, rec.Body.Bytes())
			}
			if rec.Code >= 500 {
				t.Fatalf("%s: %d %v", u, rec.Code, body)
			}
			if rec.Code >= 400 && body["error"] == "" {
				t.Fatalf("%s: %d without a message", u, rec.Code)
			}
		}
	})
}
