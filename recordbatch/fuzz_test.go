package recordbatch

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// goldenSeeds adds every golden batch and chunk to a fuzz corpus.
func goldenSeeds(f *testing.F, add func(b []byte)) {
	for _, name := range []string{"none.batch", "gzip.batch", "snappy.batch", "snappy-xerial.batch", "lz4.batch", "zstd.batch", "fetch-chunk.bin"} {
		add(readGolden(f, name))
	}
}

// knownError reports whether err wraps one of the package's sentinels, as
// every error from a decoder of untrusted bytes must.
func knownError(err error) bool {
	for _, s := range []error{ErrCorrupt, ErrInvalidRecord, ErrUnsupportedMagic, ErrUnsupportedCodec} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func FuzzValidate(f *testing.F) {
	goldenSeeds(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Validate(b)
		if err != nil {
			if !knownError(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if h.Size() != len(b) || CheckCRC(b) != nil || h.NumRecords < 1 || h.Control() {
			t.Fatalf("Validate accepted %+v", h)
		}
		n := 0
		for batch, err := range Iterate(b) {
			if err != nil || len(batch.Bytes) != len(b) {
				t.Fatalf("Iterate disagrees with Validate: %v", err)
			}
			n++
		}
		if n != 1 {
			t.Fatalf("Iterate found %d batches", n)
		}
	})
}

// FuzzRecords decodes arbitrary batches with arbitrary limits. A batch that
// decodes must re-encode (uncompressed) into a batch that decodes to the
// same records.
func FuzzRecords(f *testing.F) {
	goldenSeeds(f, func(b []byte) {
		f.Add(b, uint32(1<<20))
		f.Add(b, uint32(100))
	})
	f.Fuzz(func(t *testing.T, b []byte, limit uint32) {
		rs, err := Records(b, int(limit%(4<<20)))
		if err != nil {
			if !knownError(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		h, _ := ParseHeader(b)
		if len(rs) != int(h.NumRecords) {
			t.Fatalf("%d records, header says %d", len(rs), h.NumRecords)
		}
		// Encode accepts deltas only if they increase; decoded batches
		// need not have that property.
		explicit := false
		for i := range rs {
			if rs[i].OffsetDelta != 0 {
				explicit = true
			}
			if i > 0 && rs[i].OffsetDelta <= rs[i-1].OffsetDelta {
				return
			}
		}
		if !explicit && len(rs) > 1 {
			return
		}
		again, err := Encode(h, rs, CodecNone)
		if err != nil {
			t.Fatalf("re-encoding decoded records: %v", err)
		}
		rs2, err := Records(again, len(again))
		if err != nil {
			t.Fatalf("decoding re-encoded records: %v", err)
		}
		equalRecords(t, rs2, rs)
	})
}

func fuzzDecompress(f *testing.F, codec Codec) {
	goldenSeeds(f, func(b []byte) {
		h, err := ParseHeader(b)
		if err == nil && h.Codec() == codec && h.Size() == len(b) {
			f.Add(b[HeaderSize:], uint32(1<<20))
		}
	})
	for _, in := range [][]byte{nil, []byte("a"), bytes.Repeat([]byte("silt "), 1000)} {
		c, err := Compress(codec, in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(c, uint32(len(in)))
		f.Add(c, uint32(len(in)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, limit uint32) {
		lim := int(limit % (4 << 20))
		out, err := Decompress(codec, data, lim)
		if err != nil {
			if !knownError(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if len(out) > lim {
			t.Fatalf("%d bytes out, limit %d", len(out), lim)
		}
		// What decoded must survive our own encoder.
		c, err := Compress(codec, out)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decompress(codec, c, len(out))
		if err != nil || !bytes.Equal(back, out) {
			t.Fatalf("round trip of %d bytes: %v", len(out), err)
		}
	})
}

func FuzzDecompressGzip(f *testing.F)   { fuzzDecompress(f, CodecGzip) }
func FuzzDecompressSnappy(f *testing.F) { fuzzDecompress(f, CodecSnappy) }
func FuzzDecompressLZ4(f *testing.F)    { fuzzDecompress(f, CodecLZ4) }
func FuzzDecompressZstd(f *testing.F)   { fuzzDecompress(f, CodecZstd) }

// FuzzPatch patches arbitrary chunks: Patch must either refuse the chunk
// untouched or produce batches with consecutive offset ranges.
func FuzzPatch(f *testing.F) {
	goldenSeeds(f, func(b []byte) {
		f.Add(b, int64(0), uint8(0))
		f.Add(b, int64(1<<40), uint8(0b10010))
	})
	f.Fuzz(func(t *testing.T, chunk []byte, base int64, skipMask uint8) {
		base &= 1<<62 - 1
		var skip []int
		for i := range 8 {
			if skipMask&(1<<i) != 0 {
				skip = append(skip, i)
			}
		}
		orig := slices.Clone(chunk)
		patched, next, err := Patch(chunk, base, 3, skip)
		if err != nil {
			if !knownError(err) && !strings.Contains(err.Error(), "skip index") {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			if !bytes.Equal(chunk, orig) {
				t.Fatal("failed Patch modified the chunk")
			}
			return
		}
		want := base
		for b, err := range Iterate(patched) {
			if err != nil {
				t.Fatal(err)
			}
			if b.BaseOffset != want || b.PartitionLeaderEpoch != 3 {
				t.Fatalf("batch at %d (epoch %d), want %d", b.BaseOffset, b.PartitionLeaderEpoch, want)
			}
			want = b.LastOffset() + 1
		}
		if want != next {
			t.Fatalf("next %d, batches end at %d", next, want)
		}
	})
}

// FuzzParseMarker: control-record decoding never panics, its errors wrap a
// sentinel, and a marker it accepts encodes back to a batch it reads the
// same way.
func FuzzParseMarker(f *testing.F) {
	goldenSeeds(f, func(b []byte) { f.Add(b) })
	for _, commit := range []bool{true, false} {
		f.Add(markerBatch(f, 7, 3, commit))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMarker(b)
		if err != nil {
			if !knownError(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		again, err := ParseMarker(markerBatch(t, m.ProducerID, m.ProducerEpoch, m.Commit))
		if err != nil || again.ProducerID != m.ProducerID || again.ProducerEpoch != m.ProducerEpoch || again.Commit != m.Commit {
			t.Fatalf("marker %+v re-encoded reads as %+v, %v", m, again, err)
		}
	})
}
