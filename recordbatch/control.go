package recordbatch

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Marker is a transaction marker: what the control record of a commit or
// abort control batch says (Kafka's ControlRecordKey and EndTxnMarker).
type Marker struct {
	ProducerID       int64
	ProducerEpoch    int16
	Commit           bool
	CoordinatorEpoch int32
}

// ParseMarker decodes a control batch holding a transaction marker. Readers
// of the log that show committed data only (silt cat, the Parquet export)
// use it to tell commit from abort. It checks the batch's framing and CRC
// and that it is a transactional control batch of one record whose key is
// a commit or abort marker; anything else is an error wrapping
// ErrInvalidRecord or ErrCorrupt, never a panic: the bytes come from the
// bucket.
func ParseMarker(batch []byte) (Marker, error) {
	h, err := ParseHeader(batch)
	if err != nil {
		return Marker{}, err
	}
	if !h.Control() || !h.Transactional() {
		return Marker{}, fmt.Errorf("%w: not a transactional control batch", ErrInvalidRecord)
	}
	records, err := Records(batch, 1<<10)
	if err != nil {
		return Marker{}, err
	}
	if len(records) != 1 {
		return Marker{}, fmt.Errorf("%w: a marker batch holds %d records, want 1", ErrInvalidRecord, len(records))
	}
	var key kmsg.ControlRecordKey
	if err := key.ReadFrom(records[0].Key); err != nil {
		return Marker{}, fmt.Errorf("%w: control record key: %v", ErrInvalidRecord, err)
	}
	var value kmsg.EndTxnMarker
	if err := value.ReadFrom(records[0].Value); err != nil {
		return Marker{}, fmt.Errorf("%w: end transaction marker: %v", ErrInvalidRecord, err)
	}
	m := Marker{ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch, CoordinatorEpoch: value.CoordinatorEpoch}
	switch key.Type {
	case kmsg.ControlRecordKeyTypeCommit:
		m.Commit = true
	case kmsg.ControlRecordKeyTypeAbort:
	default:
		return Marker{}, fmt.Errorf("%w: control record type %d is no transaction marker", ErrInvalidRecord, key.Type)
	}
	return m, nil
}
