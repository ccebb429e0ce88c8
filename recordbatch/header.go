package recordbatch

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderSize is the size of the fixed part of a v2 batch, up to and
// including NumRecords. The records section starts here.
const HeaderSize = 61

// Byte offsets of the header fields; see the package doc for the layout.
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21 // the CRC covers everything from here on
	offLastOffsetDelta = 23
	offFirstTimestamp  = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offNumRecords      = 57

	// logOverhead is BaseOffset plus Length: the bytes Length does not count.
	logOverhead = 12
	// minLength is the smallest valid Length: a header with no records.
	minLength = HeaderSize - logOverhead
	// legacyMinLength is the smallest Length of a message in any format
	// (v0's record overhead, Kafka's LegacyRecord.RECORD_OVERHEAD_V0).
	legacyMinLength = 14
)

// Attribute bits other than the codec, for building a Header to [Encode].
const (
	// AttrLogAppendTime marks MaxTimestamp as the broker's append time,
	// which then stands for every record's timestamp.
	AttrLogAppendTime int16 = 0x08
	// AttrTransactional marks a batch written inside a transaction.
	AttrTransactional int16 = 0x10
	// AttrControl marks a batch of transaction markers, written only by
	// brokers; producers may not set it.
	AttrControl int16 = 0x20
	// AttrDeleteHorizon marks FirstTimestamp as the compaction delete
	// horizon (KIP-534).
	AttrDeleteHorizon int16 = 0x40

	codecMask int16 = 0x07
)

// Errors, each tested with errors.Is. Every error about the bytes of a batch
// wraps exactly one of the first four, which the agent maps to Kafka error
// codes; only a caller's own bad arguments (Patch's skip list) produce
// errors that wrap none.
var (
	// ErrCorrupt means the bytes are not a well-formed batch: CRC
	// mismatch, truncation, a Length that disagrees with the bytes, or
	// records that do not decode. Kafka: CORRUPT_MESSAGE (2), which Kafka
	// clients treat as retriable (the bytes may have been damaged in
	// flight).
	ErrCorrupt = errors.New("recordbatch: corrupt record batch")

	// ErrInvalidRecord means a well-formed batch that a broker must not
	// accept from a producer: a BaseOffset other than 0, NumRecords < 1,
	// LastOffsetDelta != NumRecords-1, the control bit set, or a producer
	// id with a negative sequence. Kafka raises InvalidRecordException for
	// each of these (LogValidator.validateBatch, UnifiedLog): INVALID_RECORD
	// (87), which clients do not retry.
	ErrInvalidRecord = errors.New("recordbatch: invalid record batch")

	// ErrUnsupportedMagic means magic 0 or 1: a v0/v1 message set, a
	// format that exists but that silt does not store. Kafka answers a
	// produce request of version 3 or later carrying one with
	// INVALID_RECORD (87, ProduceRequest.validateRecords). Any other magic
	// is no format at all and wraps ErrCorrupt, as Kafka's
	// ByteBufferLogInputStream throws CorruptRecordException for it.
	ErrUnsupportedMagic = errors.New("recordbatch: unsupported magic (message format); only v2 is supported")

	// ErrUnsupportedCodec means compression codec bits 5, 6 or 7. Kafka:
	// UNSUPPORTED_COMPRESSION_TYPE (76).
	ErrUnsupportedCodec = errors.New("recordbatch: unsupported compression codec")

	// ErrLimit is wrapped, together with ErrCorrupt, by decompression that
	// would exceed the caller's size limit, so a caller can tell a batch
	// that is too large to decode from one that is damaged.
	ErrLimit = errors.New("recordbatch: decompressed size exceeds limit")
)

// Codec is a batch's compression codec, the low three attribute bits.
type Codec int8

// The codecs Kafka defines. Zstd needs produce request version 7 or later,
// which is the agent's check, not this package's.
const (
	CodecNone   Codec = 0
	CodecGzip   Codec = 1
	CodecSnappy Codec = 2
	CodecLZ4    Codec = 3
	CodecZstd   Codec = 4
)

// String returns the codec's name as Kafka's compression.type spells it,
// for logs and `silt cat`.
func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

// Valid reports whether c is one of the five codecs Kafka defines.
func (c Codec) Valid() bool { return c >= CodecNone && c <= CodecZstd }

// Header is the fixed part of a v2 record batch, field for field. It is a
// value type so that parsing it allocates nothing.
type Header struct {
	BaseOffset           int64
	Length               int32 // bytes after the Length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32 // CRC-32C of the batch from Attributes on
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// ParseHeader reads the fixed header from the start of b without copying or
// allocating. It checks only that b holds a header and that the magic is 2;
// the rest (lengths, CRC, counts) is [Validate]'s job, so ParseHeader is
// cheap enough for every batch a fetch touches. The magic byte sits at the
// same offset in every message format, so an old-format message set shorter
// than a v2 header still reports ErrUnsupportedMagic rather than ErrCorrupt;
// a magic that no format has (negative, or above 2) is ErrCorrupt.
func ParseHeader(b []byte) (Header, error) {
	if len(b) > offMagic && b[offMagic] != 2 {
		if m := int8(b[offMagic]); m != 0 && m != 1 {
			return Header{}, fmt.Errorf("%w: invalid magic %d", ErrCorrupt, m)
		}
		return Header{}, fmt.Errorf("%w: magic %d", ErrUnsupportedMagic, int8(b[offMagic]))
	}
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, shorter than a %d byte batch header", ErrCorrupt, len(b), HeaderSize)
	}
	return Header{
		BaseOffset:           int64(binary.BigEndian.Uint64(b[offBaseOffset:])),
		Length:               int32(binary.BigEndian.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(binary.BigEndian.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  binary.BigEndian.Uint32(b[offCRC:]),
		Attributes:           int16(binary.BigEndian.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:])),
		FirstTimestamp:       int64(binary.BigEndian.Uint64(b[offFirstTimestamp:])),
		MaxTimestamp:         int64(binary.BigEndian.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(binary.BigEndian.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(binary.BigEndian.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(binary.BigEndian.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(binary.BigEndian.Uint32(b[offNumRecords:])),
	}, nil
}

// Codec returns the compression codec from the attributes. It may be
// invalid (5..7) in a batch that has not been validated.
func (h Header) Codec() Codec { return Codec(h.Attributes & codecMask) }

// TimestampType returns 0 when record timestamps are the producer's create
// time and 1 when MaxTimestamp is the broker's log append time.
func (h Header) TimestampType() int8 {
	if h.Attributes&AttrLogAppendTime != 0 {
		return 1
	}
	return 0
}

// Transactional reports whether the batch belongs to a transaction, so
// read_committed consumers must wait for its marker.
func (h Header) Transactional() bool { return h.Attributes&AttrTransactional != 0 }

// Control reports whether the batch holds transaction markers rather than
// user records.
func (h Header) Control() bool { return h.Attributes&AttrControl != 0 }

// Size returns 12 + Length, the length of the whole batch on the wire: the
// distance to the next batch in a chunk. It can be negative or past the end
// of the bytes in an unvalidated header.
func (h Header) Size() int { return logOverhead + int(h.Length) }

// LastOffset returns the offset of the batch's last record (or of the last
// record it held before compaction): BaseOffset + LastOffsetDelta. The next
// batch starts after it.
func (h Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// SetBaseOffset writes off into the batch's BaseOffset field in place. The
// field is outside the CRC, so the batch stays valid; the fetch path uses it
// to give stored batches the offsets the journal assigned. batch must start
// with a header; a shorter slice is left untouched rather than panicking.
func SetBaseOffset(batch []byte, off int64) {
	if len(batch) >= HeaderSize {
		binary.BigEndian.PutUint64(batch[offBaseOffset:], uint64(off))
	}
}

// SetLeaderEpoch writes epoch into the batch's PartitionLeaderEpoch field in
// place. The field is outside the CRC, so the batch stays valid; consumers
// use it to detect log truncation (KIP-320). A slice shorter than a header
// is left untouched.
func SetLeaderEpoch(batch []byte, epoch int32) {
	if len(batch) >= HeaderSize {
		binary.BigEndian.PutUint32(batch[offLeaderEpoch:], uint32(epoch))
	}
}

// SetLogAppendTime turns a batch into a log-append-time batch stamped ts, as
// a broker does for a topic with message.timestamp.type=LogAppendTime: it
// sets the timestamp-type attribute and MaxTimestamp, which then stands for
// every record's timestamp, and recomputes the CRC, which covers both. The
// records are untouched. A slice shorter than a header is left untouched.
func SetLogAppendTime(batch []byte, ts int64) {
	if len(batch) < HeaderSize {
		return
	}
	attrs := int16(binary.BigEndian.Uint16(batch[offAttributes:]))
	binary.BigEndian.PutUint16(batch[offAttributes:], uint16(attrs|AttrLogAppendTime))
	binary.BigEndian.PutUint64(batch[offMaxTimestamp:], uint64(ts))
	putCRC(batch)
}
