package recordbatch

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record is one decoded record with its absolute offset and timestamp, the
// form compaction, Parquet export and `silt cat` work with.
//
// Nil and empty are different on the wire and are kept apart: a nil Key is
// a null key (length -1), a nil Value a null value (a tombstone for
// compaction), a nil header Value a null header value.
type Record struct {
	// Offset is the record's absolute offset, BaseOffset + OffsetDelta.
	// [Encode] ignores it and reads OffsetDelta.
	Offset int64
	// OffsetDelta is the offset relative to the batch's BaseOffset.
	OffsetDelta int32
	// Timestamp is the absolute timestamp in milliseconds: FirstTimestamp
	// plus the record's delta, or MaxTimestamp in a log-append-time batch.
	Timestamp int64
	Key       []byte
	Value     []byte
	Headers   []kmsg.Header
}

// minRecordSize is the smallest encoded record: length, attributes,
// timestamp delta, offset delta, key length, value length and header count
// of one byte each. It bounds how many records a section of n bytes can
// hold, whatever NumRecords claims.
const minRecordSize = 7

// Records decodes every record of one batch, decompressing the records
// section with at most limit bytes of output (see [Decompress]). It checks
// the batch's framing and CRC first, since stored bytes can be damaged at
// rest, and it requires the section to hold exactly NumRecords records with
// nothing left over: the produce path never looked inside the section.
// Control batches decode the same way; their keys and values are the
// transaction markers.
//
// Key, Value and header values alias the batch (uncompressed) or the
// decompressed section: they stay valid while batch is not modified.
// Header keys are copied strings. limit bounds the section, not the decoded
// form: a Record costs 96 bytes and a header 40 however small they are on
// the wire (7 and 2 bytes at least), so a hostile section decodes to at most
// about 20 times its size.
//
// Records is as lenient as franz-go's kmsg.Record in two places: a
// negative header count reads as zero headers and a negative header key
// length as an empty key. Kafka's broker rejects both at produce and the
// Java client on read.
func Records(batch []byte, limit int) ([]Record, error) {
	if err := CheckCRC(batch); err != nil {
		return nil, err
	}
	h, _ := ParseHeader(batch) // CheckCRC parsed it
	if !h.Codec().Valid() {
		return nil, fmt.Errorf("%w: codec %d", ErrUnsupportedCodec, int8(h.Codec()))
	}
	if h.NumRecords < 0 {
		return nil, fmt.Errorf("%w: record count %d", ErrCorrupt, h.NumRecords)
	}
	data, err := Decompress(h.Codec(), batch[HeaderSize:], limit)
	if err != nil {
		return nil, err
	}
	logAppendTime := h.TimestampType() == 1

	rs := make([]Record, 0, min(int(h.NumRecords), len(data)/minRecordSize))
	for i := range int(h.NumRecords) {
		var kr kmsg.Record
		n, err := readRecord(&kr, data)
		if err != nil {
			return nil, fmt.Errorf("%w: record %d of %d: %v", ErrCorrupt, i, h.NumRecords, err)
		}
		data = data[n:]
		r := Record{
			Offset:      h.BaseOffset + int64(kr.OffsetDelta),
			OffsetDelta: kr.OffsetDelta,
			Timestamp:   h.FirstTimestamp + kr.TimestampDelta64,
			Key:         kr.Key,
			Value:       kr.Value,
			Headers:     kr.Headers,
		}
		if logAppendTime {
			r.Timestamp = h.MaxTimestamp
		}
		rs = append(rs, r)
	}
	if len(data) != 0 {
		return nil, fmt.Errorf("%w: %d bytes follow the batch's %d records", ErrCorrupt, len(data), h.NumRecords)
	}
	return rs, nil
}

// readRecord decodes the record at the start of data into kr with kmsg and
// returns its encoded size. kmsg.Record.ReadFrom does not say how many
// bytes it consumed, so readRecord bounds it to the record's declared
// length and then checks that the fields filled exactly that length, as
// Kafka's DefaultRecord.readFrom does.
func readRecord(kr *kmsg.Record, data []byte) (int, error) {
	u, n := binary.Uvarint(data)
	if n <= 0 || n > 5 || u > math.MaxUint32 {
		return 0, fmt.Errorf("bad length varint (%d bytes left)", len(data))
	}
	length := int32(uint32(u>>1) ^ -uint32(u&1))
	if length < 0 || int64(length) > int64(len(data)-n) {
		return 0, fmt.Errorf("record length %d exceeds the %d bytes left", length, len(data)-n)
	}
	span := data[:n+int(length)]
	if err := kr.ReadFrom(span); err != nil {
		return 0, err
	}
	// The canonical (shortest) encoding of the decoded fields is at most
	// what ReadFrom consumed, which is at most length. Equal is the
	// common case; otherwise either varints were padded (legal) or bytes
	// were left over, and only then is a second decode needed to tell.
	if size := bodySize(kr); size != int(length) {
		var probe kmsg.Record
		if probe.UnsafeReadFrom(span[:len(span)-1]) == nil {
			return 0, fmt.Errorf("record length %d, but its fields end earlier", length)
		}
	}
	return len(span), nil
}

// bodySize is the size of r's shortest encoding after the length varint:
// the value of the Length field.
func bodySize(r *kmsg.Record) int {
	size := 1 + varlongLen(r.TimestampDelta64) + varlongLen(int64(r.OffsetDelta)) +
		bytesLen(r.Key) + bytesLen(r.Value) + varlongLen(int64(len(r.Headers)))
	for _, h := range r.Headers {
		size += varlongLen(int64(len(h.Key))) + len(h.Key) + bytesLen(h.Value)
	}
	return size
}

// varlongLen is the size of x as a zigzag varint.
func varlongLen(x int64) int {
	u := uint64(x<<1) ^ uint64(x>>63)
	return (bits.Len64(u|1) + 6) / 7
}

// bytesLen is the size of a length-prefixed byte field, nil being length -1.
func bytesLen(b []byte) int {
	if b == nil {
		return 1
	}
	return varlongLen(int64(len(b))) + len(b)
}

// Encode builds one valid v2 batch from records, CRC included. Compaction
// uses it to rewrite batches and tests to make arbitrary ones.
//
// From h it takes BaseOffset, PartitionLeaderEpoch, the attribute bits
// other than the codec (codec wins), FirstTimestamp, MaxTimestamp,
// ProducerID, ProducerEpoch and BaseSequence as given; record timestamp
// deltas are taken against h.FirstTimestamp. Use [TimestampBounds] for the
// values a producer would write. Encode computes Length, Magic, CRC and
// NumRecords, and sets LastOffsetDelta to the last record's OffsetDelta or
// h.LastOffsetDelta, whichever is larger, so a compacted batch can keep
// reserving the offsets of records it dropped.
//
// Offset deltas are 0, 1, 2… in record order when every record's
// OffsetDelta is 0; otherwise each record's OffsetDelta is used as given
// and they must be non-negative and strictly increasing (compacted batches
// keep their original offsets, with gaps). Record.Offset is ignored. Zero
// records make an empty batch, which Kafka's log cleaner keeps to preserve
// producer state; [Validate] rejects such a batch from a producer.
func Encode(h Header, records []Record, codec Codec) ([]byte, error) {
	return encode(h, records, codec, Compress)
}

// EncodeLevels is Encode compressing at the given levels, as a broker that
// recompresses to a topic's compression.type does.
func EncodeLevels(h Header, records []Record, codec Codec, lv Levels) ([]byte, error) {
	return encode(h, records, codec, func(c Codec, data []byte) ([]byte, error) { return CompressLevels(c, data, lv) })
}

func encode(h Header, records []Record, codec Codec, compress func(Codec, []byte) ([]byte, error)) ([]byte, error) {
	if !codec.Valid() {
		return nil, fmt.Errorf("%w: codec %d", ErrUnsupportedCodec, int8(codec))
	}
	explicit := false
	for i := range records {
		if records[i].OffsetDelta != 0 {
			explicit = true
			break
		}
	}
	if len(records) > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d records do not fit a batch", ErrInvalidRecord, len(records))
	}

	// Two passes over the records: the first checks them and sizes the
	// section, so the second appends into one allocation.
	toKmsg := func(i int) kmsg.Record {
		r := &records[i]
		kr := kmsg.Record{
			TimestampDelta64: r.Timestamp - h.FirstTimestamp,
			OffsetDelta:      int32(i),
			Key:              r.Key,
			Value:            r.Value,
			Headers:          r.Headers,
		}
		kr.TimestampDelta = int32(kr.TimestampDelta64) // kmsg's legacy field; AppendTo prefers the 64-bit one
		if explicit {
			kr.OffsetDelta = r.OffsetDelta
		}
		kr.Length = int32(bodySize(&kr))
		return kr
	}
	total, last := 0, int32(-1)
	for i := range records {
		kr := toKmsg(i)
		if kr.OffsetDelta <= last { // also catches a negative first delta
			return nil, fmt.Errorf("%w: record %d has offset delta %d after %d; deltas must be non-negative and increase", ErrInvalidRecord, i, kr.OffsetDelta, last)
		}
		if size := bodySize(&kr); size > math.MaxInt32-5 {
			return nil, fmt.Errorf("%w: record %d is %d bytes", ErrInvalidRecord, i, size)
		}
		total += varlongLen(int64(kr.Length)) + int(kr.Length)
		last = kr.OffsetDelta
	}
	raw := make([]byte, 0, total)
	for i := range records {
		kr := toKmsg(i)
		raw = kr.AppendTo(raw)
	}

	payload, err := compress(codec, raw)
	if err != nil {
		return nil, err
	}
	if len(payload) > math.MaxInt32-minLength {
		return nil, fmt.Errorf("%w: records section of %d bytes does not fit a batch", ErrInvalidRecord, len(payload))
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          h.BaseOffset,
		Length:               int32(minLength + len(payload)),
		PartitionLeaderEpoch: h.PartitionLeaderEpoch,
		Magic:                2,
		Attributes:           h.Attributes&^codecMask | int16(codec),
		LastOffsetDelta:      max(h.LastOffsetDelta, last),
		FirstTimestamp:       h.FirstTimestamp,
		MaxTimestamp:         h.MaxTimestamp,
		ProducerID:           h.ProducerID,
		ProducerEpoch:        h.ProducerEpoch,
		FirstSequence:        h.BaseSequence,
		NumRecords:           int32(len(records)),
		Records:              payload,
	}
	out := rb.AppendTo(make([]byte, 0, HeaderSize+len(payload)))
	putCRC(out)
	return out, nil
}

// TimestampBounds returns the first record's timestamp and the largest
// one: what a Java producer writes as FirstTimestamp and MaxTimestamp. With
// no records both are -1, Kafka's "no timestamp".
func TimestampBounds(records []Record) (first, maxTS int64) {
	if len(records) == 0 {
		return -1, -1
	}
	first, maxTS = records[0].Timestamp, records[0].Timestamp
	for _, r := range records[1:] {
		maxTS = max(maxTS, r.Timestamp)
	}
	return first, maxTS
}
