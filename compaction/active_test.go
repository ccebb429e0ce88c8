package compaction

import (
	"math"
	"testing"
	"time"

	"github.com/silt-io/silt/journal"
)

// The newest chunks count as Kafka's active segment, never cleaned, while
// they are under segment.bytes together and the first is younger than the
// shortest of segment.ms, max.compaction.lag.ms and the merge window.
func TestActiveStart(t *testing.T) {
	const now = 1_000_000_000
	chunk := func(agoMs, bytes int64) journal.Chunk {
		return journal.Chunk{Object: "journal/00000000000000000001", Written: now - agoMs, RawLen: bytes}
	}
	// Oldest first, as a partition holds them.
	chunks := []journal.Chunk{chunk(60_000, 100), chunk(5_000, 100), chunk(2_000, 100), chunk(500, 100), chunk(10, 100)}
	defaults := policy{segmentMs: 7 * 24 * 3600 * 1000, segmentBytes: 1 << 30, maxCompactionLagMs: math.MaxInt64}
	for _, tc := range []struct {
		name   string
		mod    func(*policy)
		window time.Duration
		want   int
	}{
		{"defaults: all younger than the merge window", func(*policy) {}, 10 * time.Minute, 0},
		{"merge window of 3s", func(*policy) {}, 3 * time.Second, 2},
		{"segment.ms 1s", func(p *policy) { p.segmentMs = 1000 }, 10 * time.Minute, 3},
		{"segment.ms 1ms: all rolled", func(p *policy) { p.segmentMs = 1 }, 10 * time.Minute, 5},
		{"segment.bytes 250", func(p *policy) { p.segmentBytes = 250 }, 10 * time.Minute, 3},
		{"max.compaction.lag.ms 4s", func(p *policy) { p.maxCompactionLagMs = 4000 }, 10 * time.Minute, 2},
	} {
		p := defaults
		tc.mod(&p)
		if got := activeStart(chunks, p, tc.window, now); got != tc.want {
			t.Errorf("%s: active segment starts at chunk %d, want %d", tc.name, got, tc.want)
		}
	}
	unknown := []journal.Chunk{{RawLen: 1}, chunk(10, 1)}
	if got := activeStart(unknown, defaults, time.Minute, now); got != 1 {
		t.Errorf("a chunk of unknown commit time is old: active from %d, want 1", got)
	}
}
