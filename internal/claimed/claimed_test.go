package claimed

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/silt-io/silt/internal/clock"
	"github.com/silt-io/silt/internal/memjournal"
	"github.com/silt-io/silt/journal"
)

func TestWrite(t *testing.T) {
	j := memjournal.New(clock.NewFake(time.Unix(1_700_000_000, 0)))
	a, b := j.Claimer("agent-a"), j.Claimer("agent-b")
	store := func(v int64) func(*journal.GroupClaim) journal.Command {
		return func(c *journal.GroupClaim) journal.Command {
			return journal.Command{StoreShareGroup: &journal.StoreShareGroup{Group: "g", Version: v, Claim: c, Meta: &journal.ShareGroupMeta{Epoch: int32(v)}}}
		}
	}
	epoch := func() int32 {
		var e int32 = -1
		j.View(func(s *journal.State) {
			if m := s.ShareGroupMembers["g"]; m != nil {
				e = m.Epoch
			}
		})
		return e
	}
	ctx := context.Background()
	for _, step := range []struct {
		name  string
		claim Claim
		v     int64
		code  int16
		want  int32
	}{
		{"a claims and writes", a, 1, 0, 1},
		{"a writes again under the same claim", a, 2, 0, 2},
		{"b claims and writes", b, 3, 0, 3},
		{"a claims back and writes", a, 4, 0, 4},
	} {
		if code := Write(ctx, step.claim, j.Submit, time.Second, "g", store(step.v)); code != step.code || epoch() != step.want {
			t.Fatalf("%s: code %v epoch %d", step.name, kerr.ErrorForCode(code), epoch())
		}
	}
	// A command under a claim that is no longer the latest is refused.
	var stale journal.GroupClaim
	j.View(func(s *journal.State) { stale, _ = s.GroupClaim("g") })
	b(ctx, "g")
	code := Write(ctx, func(context.Context, string) (journal.GroupClaim, int16) { return stale, 0 }, j.Submit, time.Second, "g", store(9))
	if code != kerr.NotCoordinator.Code || epoch() != 4 {
		t.Fatalf("stale claim: %v, epoch %d", kerr.ErrorForCode(code), epoch())
	}
	j.SetDown(true)
	if code := Write(ctx, b, j.Submit, time.Second, "g", store(10)); code == 0 {
		t.Fatal("wrote with the journal down")
	}
}
