package recordbatch

import (
	"slices"
	"testing"
)

// benchBatch is a producer batch of about size bytes of JSON-like records.
func benchBatch(b *testing.B, size int, codec Codec) []byte {
	batch, err := Encode(testHeader(sizedRecords(size)), sizedRecords(size), codec)
	if err != nil {
		b.Fatal(err)
	}
	return batch
}

// BenchmarkValidate is the produce path's per-batch cost: framing checks
// and one CRC-32C pass over a 16 KiB batch.
func BenchmarkValidate(b *testing.B) {
	batch := benchBatch(b, 16<<10, CodecNone)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPatch is the fetch path's per-chunk cost: a 1 MiB chunk of 64
// batches of 16 KiB, patched in place or with two batches skipped (which
// copies).
func BenchmarkPatch(b *testing.B) {
	one := benchBatch(b, 16<<10, CodecNone)
	var chunk []byte
	for range 64 {
		chunk = append(chunk, one...)
	}
	for _, bc := range []struct {
		name string
		skip []int
	}{{"in-place", nil}, {"skip-2", []int{5, 40}}} {
		b.Run(bc.name, func(b *testing.B) {
			c := slices.Clone(chunk)
			b.SetBytes(int64(len(c)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Patch(c, 1000, 7, bc.skip); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecords is the decode cost compaction and export pay per batch,
// in bytes of batch (compressed) per second.
func BenchmarkRecords(b *testing.B) {
	for _, codec := range allCodecs {
		b.Run(codec.String(), func(b *testing.B) {
			batch := benchBatch(b, 64<<10, codec)
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Records(batch, 1<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncode is compaction's cost to write a 64 KiB batch.
func BenchmarkEncode(b *testing.B) {
	rs := sizedRecords(64 << 10)
	h := testHeader(rs)
	for _, codec := range allCodecs {
		b.Run(codec.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Encode(h, rs, codec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
