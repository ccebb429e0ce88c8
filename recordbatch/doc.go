// Package recordbatch is everything silt knows about Kafka record batches
// (message format v2, "magic 2") as bytes.
//
// silt never converts batches into another representation on the hot paths:
// the bytes a producer sends are the bytes stored in a segment chunk and the
// bytes a consumer fetches. This package is the one place that reads and
// writes those bytes.
//
// # Layout
//
// A record batch is a fixed 61-byte header followed by the records section.
// All integers are big endian:
//
//	offset  size  field                 notes
//	     0     8  BaseOffset            patched by silt at fetch; not in the CRC
//	     8     4  Length                bytes after this field: a batch is 12+Length bytes
//	    12     4  PartitionLeaderEpoch  patched by silt at fetch; not in the CRC
//	    16     1  Magic                 2 (at the same place in the v0/v1 formats)
//	    17     4  CRC                   CRC-32C (Castagnoli) of bytes [21:]
//	    21     2  Attributes            bits 0-2 codec, 3 timestamp type, 4 transactional,
//	                                    5 control, 6 delete horizon set (KIP-534)
//	    23     4  LastOffsetDelta       last record's offset minus BaseOffset
//	    27     8  FirstTimestamp        base for the records' timestamp deltas
//	    35     8  MaxTimestamp          the largest record timestamp (or the append time)
//	    43     8  ProducerID            -1 unless idempotent or transactional
//	    51     2  ProducerEpoch
//	    53     4  BaseSequence          sequence of the first record, for deduplication
//	    57     4  NumRecords
//	    61     …  records               NumRecords records; one compressed blob if codec != none
//
// Each record is
//
//	length varint, attributes int8 (unused, 0), timestampDelta varlong,
//	offsetDelta varint, keyLength varint (-1 = null key), key,
//	valueLength varint (-1 = null value, a tombstone), value,
//	headerCount varint, then per header: keyLength varint, key,
//	valueLength varint (-1 = null), value
//
// where varints are zigzag encoded, as in protocol buffers. Records are
// encoded and decoded with franz-go's kmsg.Record; the header is read
// straight from the bytes so that validating a produced batch allocates
// nothing.
//
// # What silt does with batches
//
// Produce: the agent calls [Validate] on each batch of a produce request.
// Validate checks what a Kafka broker checks before appending (framing, CRC,
// codec, record count, producer-only rules) without decompressing, so the
// cost is one CRC pass at memory speed. Validated batches are buffered and
// written to a segment verbatim, with placeholder base offsets.
//
// Commit and fetch: offsets are assigned when the journal commits a
// segment, not when it is written. A fetch reads a chunk (the batches of
// one partition in one segment, back to back) and calls [Patch], which
// writes each batch's BaseOffset and PartitionLeaderEpoch. Neither field is
// covered by the CRC, so a patched batch stays valid without recomputing
// anything. [Iterate] and [IterateFetch] walk batches back to back.
//
// Compaction, Parquet export and `silt cat`: [Records] decodes a batch
// into records with absolute offsets and timestamps, decompressing with a
// caller-given bound so that a hostile batch cannot exhaust memory, and
// [Encode] builds new valid batches (for compaction, which keeps original
// offsets with gaps, and for tests).
//
// # Errors
//
// Every error about a batch's bytes wraps one of the sentinels
// [ErrCorrupt] (Kafka's CORRUPT_MESSAGE), [ErrInvalidRecord]
// (INVALID_RECORD), [ErrUnsupportedMagic] or [ErrUnsupportedCodec], so the
// agent maps it to a Kafka error code with errors.Is; decompression past the
// caller's bound also wraps [ErrLimit]. Nothing in this package panics on any
// input: every decoder of bytes from the network or the bucket has a fuzz
// target.
package recordbatch
