package recordbatch

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// markerBatch encodes a marker's control batch as a broker writes it.
func markerBatch(tb testing.TB, pid int64, epoch int16, commit bool) []byte {
	tb.Helper()
	key := kmsg.ControlRecordKey{Type: kmsg.ControlRecordKeyTypeAbort}
	if commit {
		key.Type = kmsg.ControlRecordKeyTypeCommit
	}
	value := kmsg.EndTxnMarker{CoordinatorEpoch: 5}
	b, err := Encode(Header{Attributes: AttrTransactional | AttrControl, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: -1},
		[]Record{{Key: key.AppendTo(nil), Value: value.AppendTo(nil)}}, CodecNone)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestParseMarker(t *testing.T) {
	plain, err := Encode(Header{ProducerID: -1, BaseSequence: -1}, []Record{{Value: []byte("v")}}, CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		batch []byte
		want  Marker
		err   error
	}{
		{"commit", markerBatch(t, 9, 2, true), Marker{ProducerID: 9, ProducerEpoch: 2, Commit: true, CoordinatorEpoch: 5}, nil},
		{"abort", markerBatch(t, 9, 3, false), Marker{ProducerID: 9, ProducerEpoch: 3, CoordinatorEpoch: 5}, nil},
		{"a data batch", plain, Marker{}, ErrInvalidRecord},
		{"truncated", markerBatch(t, 1, 1, true)[:40], Marker{}, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMarker(tc.batch)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
