package recordbatch

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Levels are the compression levels of Kafka's topic configs
// compression.gzip.level, compression.lz4.level and compression.zstd.level
// (KIP-390), for a broker that recompresses batches. DefaultLevels holds
// Kafka's defaults.
type Levels struct {
	// Gzip is 1 (fastest) to 9 (best), or -1 for the library default.
	Gzip int
	// LZ4 is 1 to 17. The LZ4 library here has a fast mode and nine
	// high-compression levels: 1 and 2 are the fast mode, 3 to 9 the
	// levels of those numbers, and 10 to 17 its best, level 9.
	LZ4 int
	// Zstd is -131072 to 22; zstd maps it onto the encoder's four speeds
	// as the reference library's levels correspond to them.
	Zstd int
}

// DefaultLevels are Kafka's default compression levels.
var DefaultLevels = Levels{Gzip: -1, LZ4: 9, Zstd: 3}

// CompressLevels encodes a records section with codec at the given levels.
// At DefaultLevels it produces what Compress does, except that LZ4 uses
// Kafka's default level 9 rather than the fast mode.
func CompressLevels(codec Codec, data []byte, lv Levels) ([]byte, error) {
	switch codec {
	case CodecGzip:
		var buf bytes.Buffer
		w, err := gzip.NewWriterLevel(&buf, lv.Gzip)
		if err != nil {
			return nil, fmt.Errorf("gzip level %d: %w", lv.Gzip, err)
		}
		return finish(w, &buf, data)
	case CodecLZ4:
		level := lz4.Fast
		if lv.LZ4 >= 3 {
			level = lz4.CompressionLevel(1 << (8 + min(lv.LZ4, 9)))
		}
		var buf bytes.Buffer
		w := lz4.NewWriter(&buf)
		if err := w.Apply(lz4.CompressionLevelOption(level)); err != nil {
			return nil, fmt.Errorf("lz4 level %d: %w", lv.LZ4, err)
		}
		return finish(w, &buf, data)
	case CodecZstd:
		enc, err := zstdLevelEncoder(zstd.EncoderLevelFromZstd(lv.Zstd))
		if err != nil {
			return nil, err
		}
		return enc.EncodeAll(data, nil), nil
	}
	return Compress(codec, data)
}

// zstdEncoders holds one shared encoder per speed: EncodeAll is safe for
// concurrent use.
var zstdEncoders sync.Map // zstd.EncoderLevel → *zstd.Encoder

func zstdLevelEncoder(level zstd.EncoderLevel) (*zstd.Encoder, error) {
	if e, ok := zstdEncoders.Load(level); ok {
		return e.(*zstd.Encoder), nil
	}
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level))
	if err != nil {
		return nil, fmt.Errorf("zstd level %v: %w", level, err)
	}
	actual, _ := zstdEncoders.LoadOrStore(level, e)
	return actual.(*zstd.Encoder), nil
}
