package commit

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCheckRPCAuth(t *testing.T) {
	key, other := []byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")
	now := time.UnixMilli(1_800_000_000_000)
	body := []byte(`{"from":"a","commands":[]}`)
	header := func(k []byte, t time.Time, path string, b []byte) string {
		mac := rpcMAC(k, http.MethodPost, path, t.UnixMilli(), b)
		return "t=" + strconv.FormatInt(t.UnixMilli(), 10) + ",mac=" + base64.StdEncoding.EncodeToString(mac)
	}
	for _, tc := range []struct {
		name, header, path string
		body               []byte
		ok                 bool
	}{
		{"signed", header(key, now, ProposePath, body), ProposePath, body, true},
		{"clock a minute off", header(key, now.Add(-time.Minute), ProposePath, body), ProposePath, body, true},
		{"no header", "", ProposePath, body, false},
		{"other key", header(other, now, ProposePath, body), ProposePath, body, false},
		{"body changed", header(key, now, ProposePath, body), ProposePath, []byte(`{"from":"b"}`), false},
		{"other path", header(key, now, ProposePath, body), EntriesPath, body, false},
		{"stale", header(key, now.Add(-3*time.Minute), ProposePath, body), ProposePath, body, false},
		{"malformed", "mac=abc", ProposePath, body, false},
		{"bad base64", "t=1,mac=!!", ProposePath, body, false},
	} {
		err := checkRPCAuth(key, tc.header, http.MethodPost, tc.path, tc.body, now)
		if tc.ok != (err == nil) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// signRPC's header verifies now.
	req, _ := http.NewRequest(http.MethodPost, "http://x"+EntriesPath, strings.NewReader("x"))
	(&Node{env: Env{RPCKey: key}}).signRPC(req, []byte("x"))
	if err := checkRPCAuth(key, req.Header.Get(rpcAuthHeader), http.MethodPost, EntriesPath, []byte("x"), time.Now()); err != nil {
		t.Errorf("signRPC's own header: %v", err)
	}
}
