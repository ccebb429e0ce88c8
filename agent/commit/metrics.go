package commit

import "github.com/prometheus/client_golang/prometheus"

// metrics are the commit path's Prometheus metrics. Their names are the
// ones the agent had before the commit path was a package of its own:
// dashboards and silt bench read them.
type metrics struct {
	proposals       prometheus.Counter
	proposeRetries  prometheus.Counter
	proposeDuration prometheus.Histogram
	entriesWritten  prometheus.Counter
	pushesSent      prometheus.Counter
	pushesDropped   prometheus.Counter
	pushFailures    prometheus.Counter
	pushApplied     prometheus.Counter
	rpcRefused      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		proposals: prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_journal_proposals_total",
			Help: "Proposals (a produce's segment, an offset commit, an admin change…) this agent committed to the journal."}),
		proposeRetries: prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_journal_propose_retries_total",
			Help: "Batches of proposals resent after a failed or ambiguous commit."}),
		proposeDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "silt_journal_propose_duration_seconds",
			Help:    "Time to commit one batch of proposals, through the committer, until applied here.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		entriesWritten: prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_journal_entries_written_total",
			Help: "Journal entries this agent wrote as committer. Proposals over entries, summed over agents, is the group-commit factor."}),
		pushesSent: prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_journal_pushes_total",
			Help: "Journal entries pushed to a peer and accepted by it."}),
		pushesDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_journal_pushes_dropped_total",
			Help: "Journal entries not pushed to a peer whose queue was full (it reads them from the bucket)."}),
		pushFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_journal_push_failures_total",
			Help: "Failed pushes of journal entries to a peer."}),
		pushApplied: prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_journal_push_applied_total",
			Help: "Journal entries this agent applied from the committer's pushes rather than reading them from the bucket."}),
		rpcRefused: prometheus.NewCounter(prometheus.CounterOpts{Name: "silt_internal_rpc_refused_total",
			Help: "Internal RPC requests refused for a missing or wrong cluster-secret signature."}),
	}
	reg.MustRegister(m.proposals, m.proposeRetries, m.proposeDuration, m.entriesWritten,
		m.pushesSent, m.pushesDropped, m.pushFailures, m.pushApplied, m.rpcRefused)
	return m
}
