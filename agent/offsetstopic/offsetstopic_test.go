package offsetstopic

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/recordbatch"
)

// Groups land in the partitions Kafka would put them in: Java's
// String.hashCode, non-negative, modulo 50. The expected values are
// Kafka's (Utils.abs("...".hashCode()) % 50).
func TestPartitionForMatchesKafka(t *testing.T) {
	// Printed by Java 17: (s.hashCode() & 0x7fffffff) % 50, which is
	// Kafka's Utils.abs(groupId.hashCode) % offsets.topic.num.partitions.
	for _, tc := range []struct {
		group string
		want  int32
	}{
		{"", 0},
		{"a", 47},
		{"group", 47},
		{"my-group", 36},
		{"console-consumer-12345", 6},
		{"grüße-😀", 27}, // a character outside the BMP: two UTF-16 units
	} {
		if got := PartitionFor(tc.group); got != tc.want {
			t.Errorf("PartitionFor(%q) = %d, want %d", tc.group, got, tc.want)
		}
	}
}

func apply(t *testing.T, s *journal.State, cmds ...journal.Command) {
	t.Helper()
	if _, err := s.Apply(&journal.Entry{Version: journal.EntryVersion, Seq: s.Seq + 1, Time: 1000 * int64(s.Seq+1), Commands: cmds}); err != nil {
		t.Fatal(err)
	}
}

// A partition shows every group's latest commit and classic membership in
// Kafka's formats, ordered as applied; a later commit of a key replaces the
// earlier one at a higher offset; the end is past everything.
func TestRecordsAreTheJournalsGroupState(t *testing.T) {
	s := journal.NewState()
	apply(t, s, journal.Command{CreateTopic: &journal.CreateTopic{Name: "t", Partitions: 2}})
	const group = "group" // partition 47
	commit := func(p int32, off int64) journal.Command {
		return journal.Command{CommitOffsets: &journal.CommitOffsets{Group: group, Offsets: []journal.OffsetCommit{{Topic: "t", Partition: p, Offset: off, Metadata: "m"}}}}
	}
	apply(t, s, commit(0, 10), commit(1, 20))
	apply(t, s, journal.Command{StoreGroup: &journal.StoreGroup{Group: group, Version: 1, Meta: &journal.GroupMeta{Classic: &journal.ClassicGroupMeta{
		ProtocolType: "consumer", Protocol: "range", Generation: 3, Leader: "m1",
		Members: []journal.ClassicMember{{ID: "m1", ClientID: "c", SessionTimeoutMs: 45000, Metadata: []byte{1}, Assignment: []byte{2}}},
	}}}})
	apply(t, s, commit(0, 11))

	if recs := Records(s, 0); len(recs) != 0 {
		t.Fatalf("partition 0 holds %d records; the group is in 48", len(recs))
	}
	recs := Records(s, PartitionFor(group))
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3 (two commits, one membership)", len(recs))
	}
	wantOrder := []string{"commit t/1=20", "group gen 3", "commit t/0=11"}
	for i, r := range recs {
		if i > 0 && r.Offset <= recs[i-1].Offset {
			t.Errorf("offsets do not increase: %d after %d", r.Offset, recs[i-1].Offset)
		}
		var got string
		switch version := int16(r.Key[0])<<8 | int16(r.Key[1]); version {
		case 0, 1:
			var k kmsg.OffsetCommitKey
			var v kmsg.OffsetCommitValue
			if err := k.ReadFrom(r.Key); err != nil {
				t.Fatal(err)
			}
			if err := v.ReadFrom(r.Value); err != nil {
				t.Fatal(err)
			}
			got = "commit " + k.Topic + "/" + string(rune('0'+k.Partition)) + "=" + itoa(v.Offset)
			if k.Group != group || v.Metadata != "m" {
				t.Errorf("commit record %+v %+v", k, v)
			}
		case 2:
			var v kmsg.GroupMetadataValue
			if err := v.ReadFrom(r.Value); err != nil {
				t.Fatal(err)
			}
			got = "group gen " + itoa(int64(v.Generation))
			if len(v.Members) != 1 || v.Members[0].MemberID != "m1" || *v.Leader != "m1" || string(v.Members[0].Assignment) != "\x02" {
				t.Errorf("membership record %+v", v)
			}
		default:
			t.Fatalf("key version %d", version)
		}
		if got != wantOrder[i] {
			t.Errorf("record %d is %q, want %q", i, got, wantOrder[i])
		}
	}
	if end := End(s); end <= recs[len(recs)-1].Offset {
		t.Errorf("end %d is not past the last record %d", end, recs[len(recs)-1].Offset)
	}

	// As batches from the middle: one record per batch, offsets kept.
	b, err := Batches(s, PartitionFor(group), recs[1].Offset, 1)
	if err != nil {
		t.Fatal(err)
	}
	var offsets []int64
	for batch, err := range recordbatch.Iterate(b) {
		if err != nil {
			t.Fatal(err)
		}
		offsets = append(offsets, batch.Header.BaseOffset)
	}
	if len(offsets) != 1 || offsets[0] != recs[1].Offset {
		t.Errorf("batches from offset %d with a tiny limit: %v, want just that record", recs[1].Offset, offsets)
	}
}

func itoa(n int64) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
