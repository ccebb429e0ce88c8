package segment

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// decoder is the shared zstd decoder. DecodeAll is safe for concurrent use;
// it keeps GOMAXPROCS internal decoders so fetches decode in parallel.
var decoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0), // GOMAXPROCS
		// Fail a frame that decodes past the capacity of the buffer
		// DecodeChunk passes, which is RawLen.
		zstd.WithDecodeAllCapLimit(true),
		zstd.WithDecoderMaxMemory(MaxChunkSize),
		zstd.WithDecoderMaxWindow(MaxChunkSize),
	)
})

// DecodeChunk verifies the stored bytes of one chunk against info (length,
// CRC-32C and the index rules, since info may come from the journal rather
// than a footer), decompresses them if needed, and returns the raw chunk:
// the partition's record batches back to back.
//
// For CodecNone the result is stored itself, not a copy. For CodecZstd the
// stored bytes must be exactly one zstd frame declaring RawLen bytes of
// content, and the output is allocated once, at RawLen: its size comes from
// the checked index, never from the frame. Every failure caused by the
// bytes or the info wraps ErrCorrupt.
//
// Before decoding, DecodeChunk walks the frame's block headers, so a frame
// whose raw and RLE blocks alone overrun RawLen, or whose blocks cannot add
// up to RawLen, is rejected without decoding. A frame that passes but whose
// compressed blocks decode past RawLen is rejected during decoding, after
// klauspost/compress may have grown the buffer once (it checks the limit
// after appending a block): a transient cost measured at about 2.3 × RawLen
// in all, and only for a frame a hostile or broken writer made, since the
// CRC has already matched.
func DecodeChunk(info ChunkInfo, stored []byte) ([]byte, error) {
	bad := func(format string, args ...any) error {
		return corrupt("segment chunk %q/%d at %d: %s", info.Topic, info.Partition, info.Pos, fmt.Sprintf(format, args...))
	}
	if err := checkInfo(&info); err != nil {
		return nil, bad("%v", err)
	}
	if int64(len(stored)) != info.Len {
		return nil, bad("%d stored bytes, want %d", len(stored), info.Len)
	}
	if got := checksum(stored); got != info.CRC {
		return nil, bad("CRC %08x, want %08x", got, info.CRC)
	}
	if info.Codec == CodecNone { // checkInfo allows only none and zstd
		return stored, nil
	}

	if err := checkFrame(stored, info.RawLen); err != nil {
		return nil, bad("zstd: %v", err)
	}
	dec, err := decoder()
	if err != nil {
		return nil, fmt.Errorf("segment chunk %q/%d: zstd decoder: %w", info.Topic, info.Partition, err)
	}
	raw, err := dec.DecodeAll(stored, make([]byte, 0, info.RawLen))
	if err != nil {
		return nil, bad("zstd: %v", err)
	}
	if int64(len(raw)) != info.RawLen {
		return nil, bad("zstd: decompressed to %d bytes, want %d", len(raw), info.RawLen)
	}
	return raw, nil
}

// Block limits of zstd (RFC 8878 section 3.1.1.2).
const (
	zstdBlockHeaderSize = 3
	zstdMaxBlockSize    = 128 << 10
	zstdChecksumSize    = 4
)

// checkFrame checks the structure of stored as one zstd frame that can
// decode to exactly rawLen bytes, reading only headers: a frame magic (not
// a skippable frame), no dictionary, a declared content size of rawLen,
// blocks no larger than the window and 128 KiB, raw and RLE blocks that do
// not overrun rawLen, enough blocks to reach it, and nothing after the
// frame's checksum.
func checkFrame(stored []byte, rawLen int64) error {
	var h zstd.Header
	if err := h.Decode(stored); err != nil {
		return fmt.Errorf("frame header: %v", err)
	}
	switch {
	case h.Skippable:
		return fmt.Errorf("a skippable frame, want a data frame")
	case h.DictionaryID != 0:
		return fmt.Errorf("frame needs dictionary %d", h.DictionaryID)
	case !h.HasFCS || h.FrameContentSize != uint64(rawLen):
		return fmt.Errorf("frame does not declare %d bytes of content", rawLen)
	}
	window := h.WindowSize
	if h.SingleSegment {
		window = h.FrameContentSize
	}
	blockMax := int64(min(window, zstdMaxBlockSize))

	// known counts the output of raw and RLE blocks; each compressed block
	// adds at most blockMax, which only decoding tells exactly.
	var known, unknown int64
	rest := stored[h.HeaderSize:]
	for i := 0; ; i++ {
		if len(rest) < zstdBlockHeaderSize {
			return fmt.Errorf("block %d: header truncated", i)
		}
		bh := uint32(rest[0]) | uint32(rest[1])<<8 | uint32(rest[2])<<16
		rest = rest[zstdBlockHeaderSize:]
		last, typ, size := bh&1 == 1, (bh>>1)&3, int64(bh>>3)
		if size > blockMax {
			return fmt.Errorf("block %d: %d bytes, more than the %d a block may hold", i, size, blockMax)
		}
		content := size // bytes of the block in the frame
		switch typ {
		case 0: // raw
			known += size
		case 1: // RLE: one byte, repeated size times
			known, content = known+size, 1
		case 2: // compressed
			unknown += blockMax
		default:
			return fmt.Errorf("block %d: reserved block type", i)
		}
		if known > rawLen {
			return fmt.Errorf("block %d: raw and RLE blocks hold more than %d bytes", i, rawLen)
		}
		if int64(len(rest)) < content {
			return fmt.Errorf("block %d: %d bytes, %d left in the frame", i, content, len(rest))
		}
		rest = rest[content:]
		if last {
			break
		}
	}
	if known+unknown < rawLen {
		return fmt.Errorf("blocks can hold at most %d of the %d declared bytes", known+unknown, rawLen)
	}
	if h.HasCheckSum {
		if len(rest) < zstdChecksumSize {
			return fmt.Errorf("content checksum truncated")
		}
		rest = rest[zstdChecksumSize:]
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d bytes after the frame", len(rest))
	}
	return nil
}
