package agent

import (
	"context"
	"time"

	"github.com/silt-io/silt/journal"
)

// expireGroupOffsets deletes the committed offsets of groups that have had
// no members for longer than offsets.retention.minutes, as Kafka does
// (KIP-211). "No members" means none in this coordinator's memory; the age
// is that of the group's newest commit, which every agent sees alike in the
// journal. Offsets of deleted topics go with the topic (journal.DeleteTopic).
func (a *Agent) expireGroupOffsets(ctx context.Context, now time.Time) {
	cutoff := now.Add(-a.cfg.OffsetsRetention).UnixMilli()
	var stale []string
	a.journal.View(func(s *journal.State) {
		for name, topics := range s.Groups {
			newest := int64(0)
			for _, parts := range topics {
				for _, o := range parts {
					newest = max(newest, o.CommitTime)
				}
			}
			if newest < cutoff && a.ownsGroup(name) {
				stale = append(stale, name)
			}
		}
	})
	var cmds []journal.Command
	for _, name := range stale {
		if g := a.groups.lookup(name); g != nil {
			live := false
			g.do(func() { live = len(g.members) > 0 || g.hasConsumers() })
			if live {
				continue
			}
		}
		cmds = append(cmds, journal.Command{DeleteGroupOffsets: &journal.DeleteGroupOffsets{Group: name}})
	}
	if len(cmds) == 0 {
		return
	}
	if _, code := a.submit(ctx, cmds...); code != 0 {
		a.log.Warn("expiring group offsets failed", "groups", len(cmds))
		return
	}
	a.log.Info("expired the offsets of empty groups", "groups", len(cmds), "retention", a.cfg.OffsetsRetention)
}

// groupHousekeeping runs expireGroupOffsets every minute.
func (a *Agent) groupHousekeeping() {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case now := <-t.C:
			ctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
			a.expireGroupOffsets(ctx, now)
			cancel()
		}
	}
}
