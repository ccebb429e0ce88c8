package recordbatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy/xerial"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Decompress decodes a batch's records section (the bytes after the
// header) compressed with codec, returning at most limit bytes: more output
// fails with an error wrapping both ErrCorrupt and ErrLimit, as soon as it
// appears, so a hostile 1 KiB bomb cannot make silt allocate gigabytes.
// The output buffer never grows past limit+1 bytes; on top of it a codec
// keeps its working state: an LZ4 block (up to 4 MiB, as the frame
// declares) or a zstd window (up to max(limit, 8 MiB)). A negative limit is
// 0.
//
// Gzip, LZ4 (the frame format, which Kafka uses for magic 2) and zstd are
// decoded as streams of one or more frames. Snappy is accepted both as one
// raw snappy block (librdkafka, franz-go) and in the xerial framing the Java
// client writes: the 16-byte header "\x82SNAPPY\x00" plus two version
// words, then chunks of a big-endian uint32 length and a raw snappy block.
// A zstd frame declaring a window over max(limit, 8 MiB) fails as over the
// limit; Kafka's producers use windows of 8 MiB or less below compression
// level 20.
//
// For CodecNone the result is data itself when it fits the limit. Other
// codecs return a new slice. Decompress is safe for concurrent use.
func Decompress(codec Codec, data []byte, limit int) ([]byte, error) {
	limit = max(limit, 0)
	switch {
	case codec == CodecNone:
		if len(data) > limit {
			return nil, limitError(codec, limit)
		}
		return data, nil
	case !codec.Valid():
		return nil, fmt.Errorf("%w: codec %d", ErrUnsupportedCodec, int8(codec))
	case len(data) == 0:
		// Every codec writes a header even for no input.
		return nil, fmt.Errorf("%w: %s: empty compressed records section", ErrCorrupt, codec)
	}
	out, err := decoders[codec](data, limit)
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, ErrLimit):
		return nil, err
	default:
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, codec, err)
	}
}

// decoders decode one codec each, returning ErrLimit errors as they are
// and any other error for Decompress to wrap in ErrCorrupt.
var decoders = [...]func(data []byte, limit int) ([]byte, error){
	CodecGzip:   gunzip,
	CodecSnappy: unsnappy,
	CodecLZ4:    unlz4,
	CodecZstd:   unzstd,
}

func limitError(codec Codec, limit int) error {
	return fmt.Errorf("%w: %w: %s records section exceeds %d bytes", ErrCorrupt, ErrLimit, codec, limit)
}

// readBounded reads r to EOF into a new slice, failing with ErrLimit as
// soon as it holds more than limit bytes, so it never allocates more than
// limit+1 bytes. hint is the expected size.
func readBounded(codec Codec, r io.Reader, limit, hint int) ([]byte, error) {
	// One byte past the hint lets an exact hint end without growing.
	buf := make([]byte, 0, min(max(hint, 512)+1, limit+1))
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				return nil, limitError(codec, limit)
			}
			grown := make([]byte, len(buf), min(2*cap(buf), limit+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			return nil, limitError(codec, limit)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// expansionHint guesses the decompressed size of a records section from its
// compressed size; readBounded grows past a wrong guess.
func expansionHint(n int) int { return 4 * n }

type gzipDecoder struct {
	src bytes.Reader
	zr  gzip.Reader
}

var gzipDecoders = sync.Pool{New: func() any { return new(gzipDecoder) }}

func gunzip(data []byte, limit int) ([]byte, error) {
	d := gzipDecoders.Get().(*gzipDecoder)
	defer gzipDecoders.Put(d)
	d.src.Reset(data)
	if err := d.zr.Reset(&d.src); err != nil {
		return nil, err
	}
	return readBounded(CodecGzip, &d.zr, limit, expansionHint(len(data)))
}

type lz4Decoder struct {
	src bytes.Reader
	zr  *lz4.Reader
}

var lz4Decoders = sync.Pool{New: func() any { return &lz4Decoder{zr: lz4.NewReader(nil)} }}

func unlz4(data []byte, limit int) ([]byte, error) {
	d := lz4Decoders.Get().(*lz4Decoder)
	defer lz4Decoders.Put(d)
	d.src.Reset(data)
	d.zr.Reset(&d.src)
	return readBounded(CodecLZ4, d.zr, limit, expansionHint(len(data)))
}

// zstdWindowAllowance is the smallest window the zstd decoder accepts
// whatever the limit: a streaming encoder declares its full window (2 MiB at
// Kafka's default level 3, 8 MiB at level 19) even for a few bytes of
// content, so a small limit must not reject such frames.
const zstdWindowAllowance = 8 << 20

type zstdDecoder struct {
	src bytes.Reader
	zr  *zstd.Decoder
}

var zstdDecoders = sync.Pool{New: func() any {
	// Concurrency 1 decodes streams synchronously, with no goroutines to
	// leak from a pooled decoder; the options are constants, so NewReader
	// cannot fail.
	zr, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	return &zstdDecoder{zr: zr}
}}

// unzstd decodes as a stream into a bounded buffer rather than with
// DecodeAll, whose output grows by doubling up to its bound: the stream
// costs the frame's window (at most max(limit, 8 MiB)) plus the output.
func unzstd(data []byte, limit int) ([]byte, error) {
	hint := expansionHint(len(data))
	var first zstd.Header
	if first.Decode(data) == nil && first.HasFCS {
		// A frame that declares too much content fails before any
		// decoding; a truthful one sizes the output exactly.
		if first.FrameContentSize > uint64(limit) {
			return nil, limitError(CodecZstd, limit)
		}
		hint = int(first.FrameContentSize)
	}
	d := zstdDecoders.Get().(*zstdDecoder)
	defer func() {
		d.zr.Reset(nil) // drop the reference to data before pooling
		d.src.Reset(nil)
		zstdDecoders.Put(d)
	}()
	d.src.Reset(data)
	window := zstd.WithDecoderMaxWindow(uint64(min(max(limit, zstdWindowAllowance), zstd.MaxWindowSize)))
	if err := d.zr.ResetWithOptions(&d.src, window); err != nil {
		return nil, err
	}
	out, err := readBounded(CodecZstd, d.zr, limit, hint)
	if errors.Is(err, zstd.ErrWindowSizeExceeded) {
		return nil, limitError(CodecZstd, limit)
	}
	return out, err
}

// xerialMagic starts the Java client's snappy framing; it is followed by
// two big-endian int32 version words (1 and 1), then the chunks.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderLen = 16

func unsnappy(data []byte, limit int) ([]byte, error) {
	if len(data) >= xerialHeaderLen && bytes.Equal(data[:len(xerialMagic)], xerialMagic) {
		return unxerial(data[xerialHeaderLen:], limit)
	}
	// A raw block starts with its decoded length: check it before Decode
	// allocates that much.
	n, err := s2.DecodedLen(data)
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, limitError(CodecSnappy, limit)
	}
	return s2.Decode(nil, data)
}

// unxerial decodes the chunks after the xerial header. It sums the chunks'
// declared lengths first, bounding the total, so the output is allocated
// once at its exact size.
func unxerial(chunks []byte, limit int) ([]byte, error) {
	total := 0
	for rem := chunks; len(rem) > 0; {
		block, rest, err := xerialChunk(rem)
		if err != nil {
			return nil, err
		}
		n, err := s2.DecodedLen(block)
		if err != nil {
			return nil, err
		}
		if n > limit-total {
			return nil, limitError(CodecSnappy, limit)
		}
		total += n
		rem = rest
	}
	out := make([]byte, total)
	at := 0
	for rem := chunks; len(rem) > 0; {
		block, rest, _ := xerialChunk(rem) // checked above
		n, _ := s2.DecodedLen(block)
		if _, err := s2.Decode(out[at:at+n], block); err != nil {
			return nil, err
		}
		at += n
		rem = rest
	}
	return out, nil
}

var errXerial = errors.New("malformed xerial snappy framing")

// xerialChunk splits the first length-prefixed block off b.
func xerialChunk(b []byte) (block, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, errXerial
	}
	size := binary.BigEndian.Uint32(b)
	if uint64(size) > uint64(len(b)-4) {
		return nil, nil, errXerial
	}
	return b[4 : 4+size], b[4+size:], nil
}

// Compress encodes a records section with codec, as a Kafka producer would:
// gzip at the default level, snappy in the Java client's xerial framing
// (which every client reads), LZ4 frames, and zstd at the default level.
// Compaction uses it when it rewrites batches, tests and benchmarks to
// build batches. For CodecNone it returns data itself.
func Compress(codec Codec, data []byte) ([]byte, error) {
	switch codec {
	case CodecNone:
		return data, nil
	case CodecGzip:
		var buf bytes.Buffer
		w := gzipEncoders.Get().(*gzip.Writer)
		defer gzipEncoders.Put(w)
		w.Reset(&buf)
		return finish(w, &buf, data)
	case CodecSnappy:
		return xerial.Encode(nil, data), nil
	case CodecLZ4:
		var buf bytes.Buffer
		w := lz4Encoders.Get().(*lz4.Writer)
		defer lz4Encoders.Put(w)
		w.Reset(&buf)
		return finish(w, &buf, data)
	case CodecZstd:
		enc, err := zstdEncoder()
		if err != nil {
			return nil, err
		}
		return enc.EncodeAll(data, nil), nil
	}
	return nil, fmt.Errorf("%w: codec %d", ErrUnsupportedCodec, int8(codec))
}

// finish writes data through a compressing writer into buf, closes the
// writer and returns what it wrote.
func finish(w io.WriteCloser, buf *bytes.Buffer, data []byte) ([]byte, error) {
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var (
	gzipEncoders = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}
	lz4Encoders  = sync.Pool{New: func() any { return lz4.NewWriter(nil) }}
	// zstdEncoder is shared: EncodeAll is safe for concurrent use.
	zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
		return zstd.NewWriter(nil)
	})
)
