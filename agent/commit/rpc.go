package commit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/silt-io/silt/gossip"
	"github.com/silt-io/silt/journal"
)

// Internal RPC between the agents of one cluster, on the HTTP listener.
//
//	POST /internal/v1/propose  a batch of journal commands (JSON) for the
//	                           committer to write as (part of) one entry;
//	                           answers with the entry's number and each
//	                           command's result (JSON)
//	POST /internal/v1/entries  journal entries the committer wrote, pushed
//	                           to the other agents so they need not read
//	                           them (the binary body of push.go)
//
// Both are safe to repeat: commands carry proposal IDs and entries are
// applied once by number. With a cluster secret every request is signed
// (rpcauth.go); without one the RPC belongs on the cluster's private
// network, like memberlist's port.

// Paths of the internal RPC.
const (
	ProposePath = "/internal/v1/propose"
	EntriesPath = "/internal/v1/entries"
	// maxRPCBody bounds what an internal request may carry.
	maxRPCBody = 64 << 20
)

type proposeRequest struct {
	From     string            `json:"from"`
	Commands []journal.Command `json:"commands"`
}

type proposeResponse struct {
	Seq     uint64           `json:"seq"`
	Results []journal.Result `json:"results"`
}

// Register adds the internal RPC's handlers to mux. They answer 503 until
// Env.Ready reports true, which the agent sets after Start.
func (n *Node) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+ProposePath, n.authenticated(n.serveProposal))
	mux.HandleFunc("POST "+EntriesPath, n.authenticated(n.serveEntries))
}

// serveProposal writes another agent's commands. The agent answers
// whether or not it believes itself committer: gossip routes, the journal
// decides, and a proposer with a stale view should not be turned away.
func (n *Node) serveProposal(w http.ResponseWriter, r *http.Request) {
	if !n.env.Ready() {
		http.Error(w, "agent not ready", http.StatusServiceUnavailable)
		return
	}
	var req proposeRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRPCBody)).Decode(&req); err != nil {
		http.Error(w, "bad proposal: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(req.Commands) == 0 {
		http.Error(w, "bad proposal: no commands", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), n.env.CommitTimeout)
	defer cancel()
	seq, results, err := n.local.Submit(ctx, req.Commands)
	if err != nil {
		http.Error(w, fmt.Sprintf("commit %d commands from %s: %v", len(req.Commands), req.From, err), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(proposeResponse{Seq: seq, Results: results})
}

// serveEntries applies entries the committer pushed.
func (n *Node) serveEntries(w http.ResponseWriter, r *http.Request) {
	if !n.env.Ready() {
		http.Error(w, "agent not ready", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRPCBody+1))
	if err != nil {
		http.Error(w, "read entries: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > maxRPCBody {
		http.Error(w, "entries over the body limit", http.StatusRequestEntityTooLarge)
		return
	}
	pushed, err := DecodePush(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if len(pushed) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	raw := make([][]byte, len(pushed))
	for i, e := range pushed {
		raw[i] = e.Data
	}
	n.noteSeq(pushed[len(pushed)-1].Seq)
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	applied, err := n.journal.Offer(ctx, raw)
	n.metrics.pushApplied.Add(float64(applied))
	if err != nil {
		n.log.Warn("pushed journal entries not applied", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// proposeRemote sends commands to the committer agent m.
func (n *Node) proposeRemote(ctx context.Context, m gossip.Member, cmds []journal.Command) (uint64, []journal.Result, error) {
	if m.InternalAddr == "" {
		return 0, nil, fmt.Errorf("committer %s has no internal address", m.Name)
	}
	body, err := json.Marshal(proposeRequest{From: n.env.Self, Commands: cmds})
	if err != nil {
		return 0, nil, fmt.Errorf("encode proposal: %w", err)
	}
	var resp proposeResponse
	if err := n.postRPC(ctx, m, ProposePath, "application/json", body, &resp); err != nil {
		return 0, nil, err
	}
	return resp.Seq, resp.Results, nil
}

// postPush posts a push body to m.
func (n *Node) postPush(ctx context.Context, m gossip.Member, path string, body []byte) error {
	return n.postRPC(ctx, m, path, "application/octet-stream", body, nil)
}

// postRPC posts body to another agent and decodes its JSON answer into
// out (nil: none expected).
func (n *Node) postRPC(ctx context.Context, m gossip.Member, path, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+m.InternalAddr+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("rpc %s to %s: %w", path, m.Name, err)
	}
	req.Header.Set("Content-Type", contentType)
	n.signRPC(req, body)
	resp, err := n.client.Do(req)
	if err != nil {
		return fmt.Errorf("rpc %s to %s: %w", path, m.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("rpc %s to %s: %s: %s", path, m.Name, resp.Status, bytes.TrimSpace(msg))
	}
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxRPCBody)).Decode(out); err != nil {
		return fmt.Errorf("rpc %s to %s: decode answer: %w", path, m.Name, err)
	}
	return nil
}
