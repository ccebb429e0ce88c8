package console

import (
	"fmt"
	"net/http"
	"time"
)

// AgentReport is what GET /api/v1/agent answers: an agent's own status,
// its rates now and their history. The cluster page asks every agent for
// its report.
type AgentReport struct {
	Status   AgentStatus `json:"status"`
	Counters Counters    `json:"counters"`
	Rates    Rates       `json:"rates"`
	// AverageRequests is the object-store request rate by type, averaged
	// since the agent started.
	AverageRequests map[string]float64 `json:"average_requests"`
	History         agentHistory       `json:"history"`
}

func (s *Server) agentView(*http.Request) (any, error) { return s.localReport() }

func (s *Server) localReport() (AgentReport, error) {
	st, err := s.src.Status()
	if err != nil {
		return AgentReport{}, err
	}
	c, err := s.src.Counters()
	if err != nil {
		return AgentReport{}, err
	}
	r, h := s.sampler.agentRates()
	return AgentReport{Status: st, Counters: c, Rates: r, History: h, AverageRequests: s.sampler.averageRequests()}, nil
}

// ClusterView is the cluster page: every agent with its report.
type ClusterView struct {
	Cluster
	Agents []AgentRow `json:"agents"`
	// Healthy is true when every agent answered, is ready and has applied
	// the journal up to what it knows; Problems says what is not.
	Healthy  bool     `json:"healthy"`
	Problems []string `json:"problems"`
}

// AgentRow is one agent on the cluster page.
type AgentRow struct {
	Agent
	Self bool `json:"self"`
	// Report is nil if the agent did not answer; Error says why.
	Report *AgentReport `json:"report,omitempty"`
	Error  string       `json:"error,omitempty"`
	// UptimeSeconds and JournalLag are read from Report.
	UptimeSeconds int64  `json:"uptime_seconds"`
	JournalLag    uint64 `json:"journal_lag"`
}

func (s *Server) clusterView(r *http.Request) (any, error) {
	c, err := s.src.Cluster()
	if err != nil {
		return nil, err
	}
	v := ClusterView{Cluster: c, Problems: []string{}}
	v.Agents = make([]AgentRow, len(c.Members))
	for i, m := range c.Members {
		v.Agents[i] = AgentRow{Agent: m, Self: m.Name == c.Self}
	}
	local, err := s.localReport()
	if err != nil {
		return nil, err
	}
	fanOut(c.Members, c.Self, func(i int, m Agent) {
		var rep AgentReport
		if err := s.peerGet(r.Context(), m.InternalAddr, "/api/v1/agent", nil, &rep); err != nil {
			v.Agents[i].Error = err.Error()
			return
		}
		v.Agents[i].Report = &rep
	})
	now := time.Now()
	for i := range v.Agents {
		a := &v.Agents[i]
		if a.Self {
			a.Report = &local
		}
		if a.Report == nil {
			v.Problems = append(v.Problems, fmt.Sprintf("%s does not answer: %s", a.Name, a.Error))
			continue
		}
		st := a.Report.Status
		a.UptimeSeconds = int64(now.Sub(st.Started).Seconds())
		a.JournalLag = max(st.JournalKnown, st.JournalSeq) - st.JournalSeq
		if !st.Ready {
			v.Problems = append(v.Problems, a.Name+" is not ready")
		}
		if a.JournalLag > 0 {
			v.Problems = append(v.Problems, fmt.Sprintf("%s is %d journal entries behind", a.Name, a.JournalLag))
		}
	}
	v.Healthy = len(v.Problems) == 0
	return v, nil
}
