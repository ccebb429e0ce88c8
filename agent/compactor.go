package agent

import (
	"context"
	"errors"
	"sync"

	"github.com/silt-io/silt/compaction"
	"github.com/silt-io/silt/journal"
)

// runCompactor runs the compactor (package compaction) while this agent
// holds the compactor role, and stops it when the role moves: one agent at
// a time merges, applies retention, cleans compacted topics, exports to
// Parquet and collects garbage. Two agents that both believe they hold the
// role for a moment cost refused commands, not data: every compactor
// command names the state it expects, and the journal refuses it if that
// state has changed (journal/apply_compaction.go).
func (a *Agent) runCompactor() {
	c := compaction.New(a.bucket, a.journal, a.compactionProposer(), compaction.Options{
		Interval:  a.cfg.CompactionInterval,
		ExportAll: a.cfg.ExportAll,
		Read:      a.readChunk,
		Merged:    a.cacheMerged,
		Logger:    a.log.With("component", "compactor"),
		Progress:  a.compactorLog.add,
	})
	var (
		cancel context.CancelFunc
		done   sync.WaitGroup
	)
	stop := func() {
		if cancel != nil {
			cancel()
			done.Wait()
			cancel = nil
			a.log.Info("compactor role given up")
		}
	}
	start := func() {
		ctx, cancelRun := context.WithCancel(a.ctx)
		cancel = cancelRun
		a.log.Info("compactor role taken")
		done.Go(func() {
			if err := c.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				a.log.Warn("compactor stopped", "err", err)
			}
		})
	}
	defer stop()
	for {
		changed := a.cluster.changed()
		holds := a.IsCompactor() && !a.leaving.Load()
		switch {
		case holds && cancel == nil:
			start()
		case !holds:
			stop()
		}
		select {
		case <-changed:
		case <-a.ctx.Done():
			return
		}
	}
}

// compactionProposer sends the compactor's commands through the proposer,
// to whichever agent is committer.
func (a *Agent) compactionProposer() compaction.Proposer {
	return func(ctx context.Context, cmds []journal.Command) ([]journal.Result, error) {
		_, res, err := a.proposer.Submit(ctx, cmds)
		return res, err
	}
}

// cacheMerged moves the cache's entries of merged chunks to the chunk that
// replaced them (compaction.Options.Merged): a consumer reading on into
// the merged range, as a tailing consumer a chunk behind does, finds it in
// the cache instead of costing a GET, and the cache holds the bytes once.
func (a *Agent) cacheMerged(old []journal.Chunk, merged journal.Chunk, data []byte) {
	cached := false
	for _, ch := range old {
		key := chunkCacheKey(ch.Object, ch.Pos)
		if _, ok := a.cache.Get(key); ok {
			cached = true
			a.cache.Delete(key)
		}
	}
	if cached {
		a.cache.Put(chunkCacheKey(merged.Object, merged.Pos), data)
	}
}
