package commit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Authentication of the internal RPC.
//
// With a cluster secret (Env.RPCKey, derived from --cluster-secret-file),
// every internal request carries an HMAC-SHA256 over its method, path,
// time and body in the X-Silt-Auth header, and a request without a valid
// one is refused 401 before anything is read into the journal: a process
// without the secret can neither propose commands nor push entries. The
// time bounds replays to rpcAuthWindow; a replay within it is harmless,
// since both RPCs are safe to repeat (proposal IDs, entries by number).
// Without a secret the RPC is open, as before: for a cluster on a private
// network, or one agent alone.

// rpcAuthHeader carries "t=<unix ms>,mac=<base64>".
const rpcAuthHeader = "X-Silt-Auth"

// rpcAuthWindow is how far a request's time may be from the receiver's.
const rpcAuthWindow = 2 * time.Minute

// rpcMAC is the MAC of one request.
func rpcMAC(key []byte, method, path string, t int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	sum := sha256.Sum256(body)
	fmt.Fprintf(h, "%s\n%s\n%d\n", method, path, t)
	h.Write(sum[:])
	return h.Sum(nil)
}

// signRPC sets the request's auth header, if the node has a key.
func (n *Node) signRPC(req *http.Request, body []byte) {
	if len(n.env.RPCKey) == 0 {
		return
	}
	t := time.Now().UnixMilli()
	mac := rpcMAC(n.env.RPCKey, req.Method, req.URL.Path, t, body)
	req.Header.Set(rpcAuthHeader, "t="+strconv.FormatInt(t, 10)+",mac="+base64.StdEncoding.EncodeToString(mac))
}

// authenticated wraps an RPC handler: with a key, it reads the body
// (bounded), checks the MAC and time, and hands the handler the body
// again; a request that fails is answered 401.
func (n *Node) authenticated(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if len(n.env.RPCKey) == 0 {
			h(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRPCBody+1))
		if err != nil || len(body) > maxRPCBody {
			http.Error(w, "unreadable or oversized body", http.StatusBadRequest)
			return
		}
		if err := checkRPCAuth(n.env.RPCKey, r.Header.Get(rpcAuthHeader), r.Method, r.URL.Path, body, time.Now()); err != nil {
			n.metrics.rpcRefused.Inc()
			n.log.Warn("internal RPC refused", "from", r.RemoteAddr, "path", r.URL.Path, "err", err)
			http.Error(w, "internal RPC: "+err.Error(), http.StatusUnauthorized)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	}
}

// checkRPCAuth verifies an auth header against the request.
func checkRPCAuth(key []byte, header, method, path string, body []byte, now time.Time) error {
	if header == "" {
		return fmt.Errorf("no %s header (the cluster has a secret)", rpcAuthHeader)
	}
	ts, mac64, ok := strings.Cut(header, ",")
	ts, ok1 := strings.CutPrefix(ts, "t=")
	mac64, ok2 := strings.CutPrefix(mac64, "mac=")
	if !ok || !ok1 || !ok2 {
		return fmt.Errorf("malformed %s header", rpcAuthHeader)
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("malformed %s time", rpcAuthHeader)
	}
	mac, err := base64.StdEncoding.DecodeString(mac64)
	if err != nil {
		return fmt.Errorf("malformed %s mac", rpcAuthHeader)
	}
	if d := now.Sub(time.UnixMilli(t)); d > rpcAuthWindow || d < -rpcAuthWindow {
		return fmt.Errorf("request time %v is %v from this agent's clock", time.UnixMilli(t).UTC(), d)
	}
	if !hmac.Equal(mac, rpcMAC(key, method, path, t, body)) {
		return fmt.Errorf("bad mac (another cluster secret?)")
	}
	return nil
}
