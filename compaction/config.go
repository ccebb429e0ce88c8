package compaction

import (
	"math"
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
	// maxCompactionLagMs is the longest a dirty record may wait for
	// cleaning, whatever the dirty ratio.
	maxCompactionLagMs int64
	// segmentMs and segmentBytes say when Kafka would roll the active
	// segment, whose records are never cleaned (see cleanEnd).
	segmentMs, segmentBytes int64
	// dirtyRatio is min.cleanable.dirty.ratio.
	dirtyRatio       float64
	export           bool
	exportIntervalMs int64
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
		maxCompactionLagMs: num("max.compaction.lag.ms", math.MaxInt64),
		segmentMs:          num("segment.ms", 7*24*3600*1000),
		segmentBytes:       num("segment.bytes", 1<<30),
		dirtyRatio:         0.5,
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
	if v, ok := t.Configs["min.cleanable.dirty.ratio"]; ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			p.dirtyRatio = f
		}
	}
	if t.Configs["silt.export"] == "none" {
		p.export = false
	}
	return p
}
