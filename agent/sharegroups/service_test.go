package sharegroups

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// Members of one group share the partitions: every partition has a
// member, every member a partition, and when members outnumber partitions
// several share one. A member's epoch moves with the group's, and a stale
// epoch is fenced.
func TestHeartbeatAssigns(t *testing.T) {
	for _, tc := range []struct {
		name       string
		partitions int32
		members    int
	}{
		{"fewer members than partitions", 6, 4},
		{"as many", 3, 3},
		{"eight members on one partition", 1, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, tc.partitions)
			s := c.agent("a")
			var ms []*consumer
			assigned := map[*consumer]*kmsg.ShareGroupHeartbeatResponseAssignment{}
			for i := range tc.members {
				m := c.consumer(string(rune('a'+i)) + "-member")
				resp := m.heartbeat(s, 0)
				if resp.ErrorCode != 0 || resp.Assignment == nil {
					t.Fatalf("join: %v, assignment %v", codeErr(resp.ErrorCode), resp.Assignment)
				}
				assigned[m] = resp.Assignment
				ms = append(ms, m)
			}
			covered := map[int32]int{}
			for _, m := range ms {
				// The members that joined before the last get the
				// group's new epoch and assignment; the last has it.
				resp := m.heartbeat(s, m.member)
				if resp.ErrorCode != 0 || (resp.Assignment == nil) != (m == ms[len(ms)-1]) {
					t.Fatalf("heartbeat of %s: %v, assignment %v", m.id, codeErr(resp.ErrorCode), resp.Assignment)
				}
				if resp.Assignment != nil {
					assigned[m] = resp.Assignment
				}
				n := 0
				for _, tp := range assigned[m].TopicPartitions {
					for _, p := range tp.Partitions {
						covered[p]++
						n++
					}
				}
				if n == 0 {
					t.Fatalf("member %s has no partition", m.id)
				}
			}
			if len(covered) != int(tc.partitions) {
				t.Fatalf("partitions assigned: %v of %d", covered, tc.partitions)
			}
			if resp := ms[0].heartbeat(s, ms[0].member-5); resp.ErrorCode != kerr.FencedMemberEpoch.Code {
				t.Fatalf("stale epoch: %v, want FENCED_MEMBER_EPOCH", codeErr(resp.ErrorCode))
			}
			if resp := ms[0].heartbeat(s, -1); resp.ErrorCode != 0 || resp.MemberEpoch != -1 {
				t.Fatalf("leave: %v", codeErr(resp.ErrorCode))
			}
			c.clock.Advance(46 * time.Second) // the others' sessions expire
			if dg := s.Describe("g", false); dg.ErrorCode != kerr.GroupIDNotFound.Code {
				t.Fatalf("after every session expired the group is %q (%v), want gone", dg.GroupState, codeErr(dg.ErrorCode))
			}
		})
	}
}

// The records of a partition go to the members one at a time: each
// record is acquired by one member until acknowledged or its lock times
// out; RELEASE hands it to the next fetch with a higher delivery count,
// REJECT and the delivery-count limit archive it, and acknowledged records
// never come back.
func TestShareFetchAcknowledge(t *testing.T) {
	c := newCluster(t, 1)
	s := c.agent("a")
	c.setConfig("share.auto.offset.reset", "earliest")
	c.setConfig("share.delivery.count.limit", "2")
	c.log.produce("t", 0, 30)
	a, b := c.consumer("a"), c.consumer("b")

	resp := a.fetch(s, []int32{0})
	if got := acquiredOf(resp, 0); len(got) != 30 || got[0] != 1 {
		t.Fatalf("a's first fetch acquired %d records (%v), want all 30 first deliveries", len(got), codeErr(resp.ErrorCode))
	}
	if resp.AcquisitionLockTimeoutMillis != 30000 {
		t.Fatalf("lock timeout %d, want Kafka's default 30000", resp.AcquisitionLockTimeoutMillis)
	}
	if got := acquiredOf(b.fetch(s, []int32{0}), 0); len(got) != 0 {
		t.Fatalf("b acquired records a holds: %v", got)
	}
	// a accepts 0-9, releases 10-19, rejects 20-24, keeps 25-29.
	ar := a.acknowledge(s, ack{0, 0, 9, []int8{ackAccept}}, ack{0, 10, 19, []int8{ackRelease}}, ack{0, 20, 24, []int8{ackReject}})
	if ar.ErrorCode != 0 || ar.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("acknowledge: %v / %+v", codeErr(ar.ErrorCode), ar.Topics)
	}
	got := acquiredOf(b.fetch(s, nil), 0)
	if want := []int64{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}; !slices.Equal(slices.Sorted(maps.Keys(got)), want) || got[10] != 2 {
		t.Fatalf("b got %v, want the released 10-19 at their second delivery", got)
	}
	if codes := partitionCodes(a.fetch(s, nil, ack{0, 10, 10, []int8{ackAccept}})); codes[0][1] != kerr.InvalidRecordState.Code {
		t.Fatalf("a acknowledged a record b holds: %v", codes)
	}
	// b releases them again: the second delivery was the last.
	b.acknowledge(s, ack{0, 10, 19, []int8{ackRelease}})
	c.clock.Advance(31 * time.Second) // a's lock on 25-29 runs out
	got = acquiredOf(b.fetch(s, nil), 0)
	if want := []int64{25, 26, 27, 28, 29}; !slices.Equal(slices.Sorted(maps.Keys(got)), want) || got[25] != 2 {
		t.Fatalf("after a's lock timed out b got %v, want 25-29 at their second delivery", got)
	}
	b.acknowledge(s, ack{0, 25, 29, []int8{ackAccept}})
	offs := c.agent("a").DescribeOffsets(offsetsReq())
	if p := offs.Topics[0].Partitions[0]; p.StartOffset != 30 || p.Lag != 0 {
		t.Fatalf("start offset %d lag %d, want 30 and 0: every record is done", p.StartOffset, p.Lag)
	}
	for name, want := range map[string]float64{
		"silt_share_records_in_flight": 0, "silt_share_records_acquired": 0,
		"silt_share_records_acquired_total": 45, "silt_share_records_redelivered_total": 15, "silt_share_records_archived_total": 15,
	} {
		if got := metric(t, c, "a", name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	// The session's epoch must follow.
	b.epoch += 3
	if r := b.fetch(s, nil); r.ErrorCode != kerr.InvalidShareSessionEpoch.Code {
		t.Fatalf("wrong epoch: %v", codeErr(r.ErrorCode))
	}
}

// An owner's successor resumes the share-partition from the journal:
// acknowledged records are not delivered again, acquired ones are, with
// their delivery counts, and the old owner can no longer acknowledge.
func TestShareOwnerMoves(t *testing.T) {
	c := newCluster(t, 1)
	old := c.agent("a")
	c.setConfig("share.auto.offset.reset", "earliest")
	c.log.produce("t", 0, 20)
	m := c.consumer("m")
	if got := acquiredOf(m.fetch(old, []int32{0}), 0); len(got) != 20 {
		t.Fatalf("acquired %d, want 20", len(got))
	}
	m.acknowledge(old, ack{0, 0, 9, []int8{ackAccept}})
	// Wait for the acquisition of 10-19 to be written (in the background).
	waitFor(t, func() bool {
		st := stateOf(c)
		return st != nil && len(st.Batches) > 0 && st.Batches[0].Count == 1
	})

	next := c.moveTo("b")
	m2 := c.consumer("m2")
	got := acquiredOf(m2.fetch(next, []int32{0}), 0)
	if want := []int64{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}; !slices.Equal(slices.Sorted(maps.Keys(got)), want) || got[10] != 2 {
		t.Fatalf("the new owner delivered %v, want 10-19 at their second delivery and nothing acknowledged", got)
	}
	ar := m.acknowledge(old, ack{0, 10, 19, []int8{ackAccept}})
	if code := ar.Topics[0].Partitions[0].ErrorCode; code == 0 {
		t.Fatal("the old owner acknowledged after the move")
	}
	// The old owner answers NOT_LEADER_OR_FOLLOWER and names no leader:
	// Kafka's share consumer would ignore a hint at silt's unchanging
	// leader epoch and keep fetching here; without one it refreshes its
	// metadata.
	resp := m.fetch(old, nil)
	if codes := partitionCodes(resp); codes[0][0] != kerr.NotLeaderForPartition.Code || len(resp.NodeEndpoints) != 0 ||
		resp.Topics[0].Partitions[0].CurrentLeader.LeaderID != -1 || resp.Topics[0].Partitions[0].CurrentLeader.LeaderEpoch != -1 {
		t.Fatalf("a fetch at the old owner: %v, leader %+v, endpoints %+v", codes, resp.Topics[0].Partitions[0].CurrentLeader, resp.NodeEndpoints)
	}
	ar = m2.acknowledge(next, ack{0, 10, 19, []int8{ackAccept}})
	if code := ar.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("acknowledge at the new owner: %v", codeErr(code))
	}
	if st := stateOf(c); st.StartOffset != 20 {
		t.Fatalf("stored start offset %d, want 20", st.StartOffset)
	}
}

// metric returns a share group metric of group g at an agent.
func metric(t *testing.T, c *cluster, agent, name string) float64 {
	t.Helper()
	mfs, err := c.regs[agent].Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == "g" {
				return m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no metric %s for group g", name)
	return 0
}

func stateOf(c *cluster) *journal.ShareState {
	var st *journal.ShareState
	c.log.View(func(s *journal.State) {
		if cur := s.Share("g", "t", 0); cur != nil {
			cp := *cur
			st = &cp
		}
	})
	return st
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// A member's connection closes while it holds records: they are released
// at once, not when their locks run out, and its session is gone.
func TestConnectionCloseReleases(t *testing.T) {
	c := newCluster(t, 1)
	s := c.agent("a")
	c.setConfig("share.auto.offset.reset", "earliest")
	c.log.produce("t", 0, 10)
	a, b := c.consumer("a"), c.consumer("b")
	if got := acquiredOf(a.fetch(s, []int32{0}), 0); len(got) != 10 {
		t.Fatalf("a acquired %d, want 10", len(got))
	}
	a.closeConn()
	waitFor(t, func() bool {
		got := acquiredOf(b.fetch(s, []int32{0}), 0)
		if len(got) > 0 && (len(got) != 10 || got[0] != 2) {
			t.Fatalf("b got %v, want the 10 records at their second delivery", got)
		}
		return len(got) == 10
	})
	if r := a.fetch(s, nil); r.ErrorCode != kerr.ShareSessionNotFound.Code {
		t.Fatalf("a's session after its connection closed: %v, want SHARE_SESSION_NOT_FOUND", codeErr(r.ErrorCode))
	}
}

// Bad requests get the error Kafka gives and change nothing: the records
// stay with their member, and the next good request is served.
func TestShareBadInput(t *testing.T) {
	c := newCluster(t, 1)
	s := c.agent("a")
	c.setConfig("share.auto.offset.reset", "earliest")
	c.log.produce("t", 0, 10)
	m := c.consumer("m")
	if got := acquiredOf(m.fetch(s, []int32{0}), 0); len(got) != 10 {
		t.Fatalf("acquired %d, want 10", len(got))
	}
	for _, tc := range []struct {
		name string
		acks []ack
		want int16
	}{
		{"types do not match the offsets", []ack{{0, 0, 4, []int8{1, 1}}}, kerr.InvalidRequest.Code},
		{"an unknown type", []ack{{0, 0, 0, []int8{7}}}, kerr.InvalidRequest.Code},
		{"RENEW without IsRenewAck", []ack{{0, 0, 0, []int8{ackRenew}}}, kerr.InvalidRequest.Code},
		{"a negative offset", []ack{{0, -3, 0, []int8{1}}}, kerr.InvalidRequest.Code},
		{"last before first", []ack{{0, 5, 2, []int8{1}}}, kerr.InvalidRequest.Code},
		{"overlapping batches", []ack{{0, 0, 3, []int8{1}}, {0, 2, 4, []int8{1}}}, kerr.InvalidRequest.Code},
		{"records never delivered", []ack{{0, 100, 1 << 62, []int8{1}}}, kerr.InvalidRecordState.Code},
	} {
		r := kmsg.NewPtrShareAcknowledgeRequest()
		r.Version = 1
		g, id := "g", m.id
		r.GroupID, r.MemberID, r.ShareSessionEpoch = &g, &id, m.epoch
		rt := kmsg.NewShareAcknowledgeRequestTopic()
		rt.TopicID = c.topicID()
		rp := kmsg.NewShareAcknowledgeRequestTopicPartition()
		for _, a := range tc.acks {
			rp.AcknowledgementBatches = append(rp.AcknowledgementBatches, kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch(a.batch()))
		}
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		resp := s.Acknowledge(context.Background(), r)
		if resp.ErrorCode != 0 {
			t.Fatalf("%s: request error %v", tc.name, codeErr(resp.ErrorCode))
		}
		m.epoch++
		if got := resp.Topics[0].Partitions[0].ErrorCode; got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, codeErr(got), codeErr(tc.want))
		}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*kmsg.ShareFetchRequest)
		want   int16
	}{
		{"no member id", func(r *kmsg.ShareFetchRequest) { r.MemberID = nil }, kerr.InvalidRequest.Code},
		{"a member id over 36 characters", func(r *kmsg.ShareFetchRequest) {
			long := strings.Repeat("x", 37)
			r.MemberID = &long
		}, kerr.InvalidRequest.Code},
		{"acknowledgements in a new session", func(r *kmsg.ShareFetchRequest) {
			r.ShareSessionEpoch = 0
			r.Topics[0].Partitions[0].AcknowledgementBatches = []kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch{ack{0, 0, 0, []int8{1}}.batch()}
		}, kerr.InvalidRequest.Code},
		{"a session never opened", func(r *kmsg.ShareFetchRequest) {
			other := "stranger"
			r.MemberID, r.ShareSessionEpoch = &other, 4
		}, kerr.ShareSessionNotFound.Code},
	} {
		r := kmsg.NewPtrShareFetchRequest()
		r.Version = 1
		g, id := "g", m.id
		r.GroupID, r.MemberID, r.ShareSessionEpoch = &g, &id, m.epoch
		rt := kmsg.NewShareFetchRequestTopic()
		rt.TopicID = c.topicID()
		rt.Partitions = []kmsg.ShareFetchRequestTopicPartition{kmsg.NewShareFetchRequestTopicPartition()}
		r.Topics = append(r.Topics, rt)
		tc.mutate(r)
		if resp := s.Fetch(context.Background(), r, context.Background()); resp.ErrorCode != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, codeErr(resp.ErrorCode), codeErr(tc.want))
		}
	}
	r := m.fetch(s, nil)
	if r.ErrorCode != 0 {
		t.Fatalf("the good session after bad requests: %v", codeErr(r.ErrorCode))
	}
	ar := m.acknowledge(s, ack{0, 0, 9, []int8{ackAccept}})
	if code := ar.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("the member still holds its records: %v", codeErr(code))
	}
}
