package agent

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
//	POST /internal/v1/propose  a batch of journal commands for the committer
//	                           to write as (part of) one entry; answers with
//	                           the entry's number and each command's result
//	POST /internal/v1/entries  journal entries the committer wrote, pushed
//	                           to the other agents so they need not read them
//
// Bodies are JSON. Both are safe to repeat: commands carry proposal IDs
// and entries are applied once by number. The RPC is unauthenticated; it
// belongs on the cluster's private network, like memberlist's port.

const (
	proposePath = "/internal/v1/propose"
	entriesPath = "/internal/v1/entries"
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

func (a *Agent) registerRPC(mux *http.ServeMux) {
	mux.HandleFunc("POST "+proposePath, a.serveProposal)
	mux.HandleFunc("POST "+entriesPath, a.serveEntries)
}

// serveProposal writes another agent's commands. The agent answers
// whether or not it believes itself committer: gossip routes, the journal
// decides, and a proposer with a stale view should not be turned away.
func (a *Agent) serveProposal(w http.ResponseWriter, r *http.Request) {
	if !a.ready.Load() {
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
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.CommitTimeout)
	defer cancel()
	seq, results, err := a.localCommitter.Submit(ctx, req.Commands)
	if err != nil {
		http.Error(w, fmt.Sprintf("commit %d commands from %s: %v", len(req.Commands), req.From, err), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(proposeResponse{Seq: seq, Results: results})
}

// serveEntries applies entries the committer pushed.
func (a *Agent) serveEntries(w http.ResponseWriter, r *http.Request) {
	if !a.ready.Load() {
		http.Error(w, "agent not ready", http.StatusServiceUnavailable)
		return
	}
	var entries []json.RawMessage
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRPCBody)).Decode(&entries); err != nil {
		http.Error(w, "bad entries: "+err.Error(), http.StatusBadRequest)
		return
	}
	raw := make([][]byte, len(entries))
	for i := range entries {
		raw[i] = entries[i]
	}
	var last struct {
		Seq uint64 `json:"seq"`
	}
	if len(raw) > 0 && json.Unmarshal(raw[len(raw)-1], &last) == nil {
		a.noteJournalSeq(last.Seq)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if _, err := a.journal.Offer(ctx, raw); err != nil {
		a.log.Warn("pushed journal entries not applied", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// proposeRemote sends commands to the committer agent m.
func (a *Agent) proposeRemote(ctx context.Context, m gossip.Member, cmds []journal.Command) (uint64, []journal.Result, error) {
	if m.InternalAddr == "" {
		return 0, nil, fmt.Errorf("committer %s has no internal address", m.Name)
	}
	body, err := json.Marshal(proposeRequest{From: a.cfg.NodeName, Commands: cmds})
	if err != nil {
		return 0, nil, fmt.Errorf("encode proposal: %w", err)
	}
	var resp proposeResponse
	if err := a.postRPC(ctx, m, proposePath, body, &resp); err != nil {
		return 0, nil, err
	}
	return resp.Seq, resp.Results, nil
}

// postRPC posts body to another agent and decodes its JSON answer into
// out (nil: none expected).
func (a *Agent) postRPC(ctx context.Context, m gossip.Member, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+m.InternalAddr+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("rpc %s to %s: %w", path, m.Name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.rpcClient.Do(req)
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

// noteJournalSeq records that entry seq exists, for the lag metric.
func (a *Agent) noteJournalSeq(seq uint64) {
	for {
		cur := a.journalKnown.Load()
		if seq <= cur || a.journalKnown.CompareAndSwap(cur, seq) {
			return
		}
	}
}
