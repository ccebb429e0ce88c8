package recordbatch

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// castagnoli is the CRC-32C table; the standard library uses the SSE4.2 and
// ARMv8 CRC instructions for it, so a CRC pass runs at memory speed.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum computes the CRC-32C that a batch stores: everything from the
// attributes to the end. batch must hold at least a header.
func checksum(batch []byte) uint32 { return crc32.Checksum(batch[offAttributes:], castagnoli) }

// Validate checks one produced batch the way a Kafka broker does before
// appending it, and returns its header. It is the produce path's only look
// at the bytes, so it does not decompress and allocates nothing unless it
// fails. The checks, in order:
//
//   - magic is 2 (ErrUnsupportedMagic for the older formats 0 and 1,
//     ErrCorrupt for any other value), read first because the magic byte
//     sits at the same offset in older formats;
//   - the slice is exactly one batch: at least a header, Length at least
//     49 and len(batch) == 12+Length (ErrCorrupt);
//   - BaseOffset is 0, as producers always send it (ErrInvalidRecord);
//   - the CRC-32C of bytes [21:] matches (ErrCorrupt);
//   - the codec is one of the five Kafka defines (ErrUnsupportedCodec);
//   - LastOffsetDelta >= 0, NumRecords >= 1 and LastOffsetDelta ==
//     NumRecords-1 (ErrInvalidRecord);
//   - the control bit is clear: only brokers write transaction markers
//     (ErrInvalidRecord);
//   - a batch with a producer id has a non-negative BaseSequence
//     (ErrInvalidRecord).
//
// Kafka also iterates the records (and so decompresses) at append; silt
// leaves record-level checks to readers, which use [Records]. Produce
// requests of version 3 and later carry exactly one batch per partition,
// so the agent passes the records field to Validate whole; Kafka trims
// trailing bytes that do not form a batch, Validate rejects them, which no
// real client notices.
func Validate(batch []byte) (Header, error) {
	h, err := ParseHeader(batch)
	if err != nil {
		return h, err
	}
	if h.Length < minLength {
		return h, fmt.Errorf("%w: batch length %d is smaller than the minimum %d", ErrCorrupt, h.Length, minLength)
	}
	if int64(len(batch)) != logOverhead+int64(h.Length) {
		return h, fmt.Errorf("%w: batch length field says %d bytes, have %d", ErrCorrupt, logOverhead+int64(h.Length), len(batch))
	}
	if h.BaseOffset != 0 {
		return h, fmt.Errorf("%w: a produced batch must have base offset 0, not %d", ErrInvalidRecord, h.BaseOffset)
	}
	if sum := checksum(batch); sum != h.CRC {
		return h, fmt.Errorf("%w: stored crc %#08x, computed %#08x", ErrCorrupt, h.CRC, sum)
	}
	if !h.Codec().Valid() {
		return h, fmt.Errorf("%w: codec %d", ErrUnsupportedCodec, int8(h.Codec()))
	}
	if h.LastOffsetDelta < 0 {
		return h, fmt.Errorf("%w: last offset delta %d", ErrInvalidRecord, h.LastOffsetDelta)
	}
	if h.NumRecords <= 0 {
		return h, fmt.Errorf("%w: record count %d", ErrInvalidRecord, h.NumRecords)
	}
	if int64(h.LastOffsetDelta) != int64(h.NumRecords)-1 {
		return h, fmt.Errorf("%w: last offset delta %d disagrees with record count %d", ErrInvalidRecord, h.LastOffsetDelta, h.NumRecords)
	}
	if h.Control() {
		return h, fmt.Errorf("%w: producers may not write control batches", ErrInvalidRecord)
	}
	if h.ProducerID >= 0 && h.BaseSequence < 0 {
		return h, fmt.Errorf("%w: producer id %d with sequence %d", ErrInvalidRecord, h.ProducerID, h.BaseSequence)
	}
	return h, nil
}

// CheckCRC reports whether a batch's stored CRC matches its bytes, with
// ErrCorrupt if not. Readers of stored batches (compaction, export) call it
// to catch damage at rest; [Records] calls it itself. batch must be exactly
// one batch, as [Iterate] yields them.
func CheckCRC(batch []byte) error {
	h, err := ParseHeader(batch)
	if err != nil {
		return err
	}
	if h.Length < minLength || int64(len(batch)) != logOverhead+int64(h.Length) {
		return fmt.Errorf("%w: batch length field says %d bytes, have %d", ErrCorrupt, logOverhead+int64(h.Length), len(batch))
	}
	if sum := checksum(batch); sum != h.CRC {
		return fmt.Errorf("%w: stored crc %#08x, computed %#08x", ErrCorrupt, h.CRC, sum)
	}
	return nil
}

// putCRC computes and stores the CRC of a batch whose other fields are
// final. batch must hold at least a header.
func putCRC(batch []byte) {
	binary.BigEndian.PutUint32(batch[offCRC:], checksum(batch))
}
