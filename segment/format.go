package segment

import (
	"errors"
	"fmt"
	"hash/crc32"
)

// Version is the format version this package writes, in the header's and
// the trailer's last magic byte. Readers accept only the versions they know.
const Version = 1

// magic opens the header and the trailer's last 8 bytes, followed by the
// version byte.
const magic = "SILTSEG"

// Fixed sizes of the format; see the package documentation for the fields.
const (
	// HeaderSize is the size of the header: magic, version and segment id.
	// Chunk 0 starts at this offset.
	HeaderSize = 8 + idLen // magic and version, id

	// TrailerSize is the fixed size of the object's tail that locates the
	// footer. A ranged reader first reads (at least) the last TrailerSize
	// bytes, passes them to ParseTrailer, then reads the footer.
	TrailerSize = 4 + 4 + 8 // index length, index CRC, magic and version

	// MaxChunkSize bounds a chunk's raw length. Build rejects larger data and
	// readers reject a larger RawLen, so a corrupt index cannot make a reader
	// allocate more than this for one chunk.
	MaxChunkSize = 256 << 20

	// MaxTopicLen is the longest topic name, in bytes, that fits the index's
	// uint16 length prefix.
	MaxTopicLen = 1<<16 - 1

	indexHeaderSize = idLen + 4 // segment id, chunk count
	entryFixedSize  = 2 + 4 + 8 + 8 + 8 + 1 + 4 + 4 + 8
	minEntrySize    = entryFixedSize + 1 // a one-byte topic

	// maxZstdRatio is the most a zstd frame can expand: every block has a
	// 3-byte header and at least one byte of content, and decodes to at
	// most 128 KiB. It lets DecodeChunk reject a RawLen the stored bytes
	// could never produce before allocating for it.
	maxZstdRatio = (128 << 10) / 4
)

// ErrCorrupt is wrapped by every error caused by bad bytes: a damaged or
// truncated object, a hostile one, or a ChunkInfo that does not match the
// stored bytes. Callers test it with errors.Is to tell data damage (re-read,
// alert, never retry the same bytes) from I/O failures.
var ErrCorrupt = errors.New("corrupt segment")

// ErrUnknownVersion is wrapped, together with ErrCorrupt, by the error for
// an object whose magic is right but whose version this reader does not
// know: most likely written by a newer silt.
var ErrUnknownVersion = errors.New("unknown segment format version")

// castagnoli is the CRC-32C table; the polynomial has hardware support on
// amd64 and arm64 and is the one Kafka uses for record batches.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Codec says how a chunk's bytes are stored.
type Codec uint8

const (
	// CodecNone stores the raw bytes: the producer compressed its batches
	// already, or zstd did not make the chunk smaller.
	CodecNone Codec = 0
	// CodecZstd stores one zstd frame (klauspost/compress writes it; any
	// RFC 8878 decoder reads it).
	CodecZstd Codec = 1
)

// String names the codec for logs and errors.
func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", uint8(c))
}

// ChunkInfo locates one chunk inside a segment object and carries what is
// needed to check and decode it, so the journal can keep it and serve a
// fetch with one ranged read and no footer read.
type ChunkInfo struct {
	Topic     string
	Partition int32
	Pos       int64  // byte offset of the stored chunk in the object
	Len       int64  // stored (possibly compressed) length
	RawLen    int64  // length after decompression
	Codec     Codec  // how the stored bytes encode the raw bytes
	CRC       uint32 // CRC-32C (Castagnoli) of the stored bytes
	Batches   int32  // record batches in the chunk, as the writer counted them
	Records   int64  // records in the chunk, as the writer counted them
}

// checkInfo verifies the fields of one chunk that do not depend on where it
// sits in the object: the rules of the index entry that DecodeChunk also
// needs, since its ChunkInfo may come from the journal rather than an index.
func checkInfo(c *ChunkInfo) error {
	switch {
	case c.Len < 1:
		return fmt.Errorf("stored length %d, want at least 1", c.Len)
	case c.RawLen < 1 || c.RawLen > MaxChunkSize:
		return fmt.Errorf("raw length %d outside 1…%d", c.RawLen, MaxChunkSize)
	case c.Partition < 0:
		return fmt.Errorf("negative partition %d", c.Partition)
	case c.Batches < 0 || c.Records < 0:
		return fmt.Errorf("negative count: %d batches, %d records", c.Batches, c.Records)
	}
	switch c.Codec {
	case CodecNone:
		if c.Len != c.RawLen {
			return fmt.Errorf("codec none with stored length %d != raw length %d", c.Len, c.RawLen)
		}
	case CodecZstd:
		if c.Len >= c.RawLen {
			return fmt.Errorf("zstd chunk of %d bytes does not shrink its %d raw bytes", c.Len, c.RawLen)
		}
		if c.RawLen > c.Len*maxZstdRatio { // no overflow: Len < RawLen <= MaxChunkSize
			return fmt.Errorf("zstd chunk of %d bytes cannot decompress to %d bytes", c.Len, c.RawLen)
		}
	default:
		return fmt.Errorf("unknown codec %d", uint8(c.Codec))
	}
	return nil
}

// corrupt formats an error that wraps ErrCorrupt.
func corrupt(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, ErrCorrupt)...)
}
