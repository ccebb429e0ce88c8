package compaction

import (
	"strconv"
	"strings"

	"github.com/silt-io/silt/journal"
)

// policy is what the compactor reads of a topic's configs, with Kafka's
// defaults for those not set (the agent validated the values).
type policy struct {
	delete, compact bool // cleanup.policy
	// retentionMs and retentionBytes are -1 for no limit.
	retentionMs, retentionBytes int64
	deleteRetentionMs           int64
	minCompactionLagMs          int64
	export                      bool
	exportIntervalMs            int64
}

func policyOf(t *journal.Topic, exportAll bool) policy {
	num := func(key string, def int64) int64 {
		if v, ok := t.Configs[key]; ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n
			}
		}
		return def
	}
	p := policy{
		retentionMs:        num("retention.ms", 7*24*3600*1000),
		retentionBytes:     num("retention.bytes", -1),
		deleteRetentionMs:  num("delete.retention.ms", 24*3600*1000),
		minCompactionLagMs: num("min.compaction.lag.ms", 0),
		exportIntervalMs:   num("silt.export.interval.ms", 60*1000),
		export:             exportAll || t.Configs["silt.export"] == "parquet",
	}
	cp, ok := t.Configs["cleanup.policy"]
	if !ok {
		cp = "delete"
	}
	for v := range strings.SplitSeq(cp, ",") {
		switch strings.TrimSpace(v) {
		case "delete":
			p.delete = true
		case "compact":
			p.compact = true
		}
	}
	if t.Configs["silt.export"] == "none" {
		p.export = false
	}
	return p
}
