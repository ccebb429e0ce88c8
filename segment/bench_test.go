package segment

import (
	"fmt"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// benchChunks is one realistic flush: 8 partitions of 1 MiB of
// record-batch-like data, all left uncompressed by the producer.
func benchChunks() []ChunkInput {
	chunks := make([]ChunkInput, 8)
	for i := range chunks {
		data, nb, nr := batches(uint64(i), 1<<20)
		chunks[i] = ChunkInput{Topic: "events", Partition: int32(i), Data: data[:1<<20], Compress: true, Batches: nb, Records: nr}
	}
	return chunks
}

func rawBytes(chunks []ChunkInput) int64 {
	var n int64
	for _, c := range chunks {
		n += int64(len(c.Data))
	}
	return n
}

// BenchmarkBuild measures Build on the produce path: MB/s of raw input
// compressed and laid out, and the stored/raw ratio.
func BenchmarkBuild(b *testing.B) {
	chunks := benchChunks()
	id := NewID()
	b.SetBytes(rawBytes(chunks))
	b.ReportAllocs()
	var size int
	for b.Loop() {
		data, _, err := Build(id, chunks)
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
	}
	b.ReportMetric(float64(size)/float64(rawBytes(chunks)), "stored/raw")
}

// BenchmarkDecodeChunk measures the fetch path on a cache miss: CRC,
// decompression of one 1 MiB zstd chunk; MB/s are of raw output.
func BenchmarkDecodeChunk(b *testing.B) {
	chunks := benchChunks()[:1]
	data, infos, err := Build(NewID(), chunks)
	if err != nil {
		b.Fatal(err)
	}
	info := infos[0]
	if info.Codec != CodecZstd {
		b.Fatalf("chunk stored as %v", info.Codec)
	}
	stored := data[info.Pos : info.Pos+info.Len]
	b.SetBytes(info.RawLen)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeChunk(info, stored); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse measures reading the index of a segment with 1,000 chunks.
func BenchmarkParse(b *testing.B) {
	chunks := make([]ChunkInput, 1000)
	for i := range chunks {
		chunks[i] = ChunkInput{Topic: fmt.Sprintf("topic-%d", i/10), Partition: int32(i % 10), Data: []byte("x")}
	}
	data, _, err := Build(NewID(), chunks)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkZstdLevels is the measurement behind encoderLevel: compression
// speed and ratio of each level on the BenchmarkBuild data, one chunk at a
// time as Build does.
func BenchmarkZstdLevels(b *testing.B) {
	chunks := benchChunks()
	for _, level := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression} {
		b.Run(level.String(), func(b *testing.B) {
			enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1))
			if err != nil {
				b.Fatal(err)
			}
			defer enc.Close()
			b.SetBytes(rawBytes(chunks))
			var out []byte
			var stored int
			for b.Loop() {
				stored = 0
				for _, c := range chunks {
					out = enc.EncodeAll(c.Data, out[:0])
					stored += len(out)
				}
			}
			b.ReportMetric(float64(stored)/float64(rawBytes(chunks)), "stored/raw")
		})
	}
}
