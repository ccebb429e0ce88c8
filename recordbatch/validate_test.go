package recordbatch

import (
	"errors"
	"slices"
	"testing"
)

func TestValidateGolden(t *testing.T) {
	for _, name := range []string{"none.batch", "gzip.batch", "snappy.batch", "snappy-xerial.batch", "lz4.batch", "zstd.batch"} {
		b := readGolden(t, name)
		h, err := Validate(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if h.Size() != len(b) {
			t.Errorf("%s: header size %d, batch %d bytes", name, h.Size(), len(b))
		}
	}
}

func TestValidate(t *testing.T) {
	good := mustEncode(t, goldenRecords()[:3], CodecNone)
	txn := mutate(good, func(b []byte) { put16(b, offAttributes, AttrTransactional) })
	for _, tc := range []struct {
		name  string
		batch []byte
		want  error
	}{
		{"valid", good, nil},
		{"valid transactional", txn, nil},
		{"valid, leader epoch set", mutate(good, func(b []byte) { put32(b, offLeaderEpoch, 9) }), nil},
		{"valid, no producer id and sequence -1", mutate(good, func(b []byte) { put64(b, offProducerID, -1); put32(b, offBaseSequence, -1) }), nil},
		{"empty", nil, ErrCorrupt},
		{"header only", good[:HeaderSize], ErrCorrupt},
		{"truncated by one byte", good[:len(good)-1], ErrCorrupt},
		{"a trailing byte", append(slices.Clone(good), 0), ErrCorrupt},
		{"two batches", append(slices.Clone(good), good...), ErrCorrupt},
		{"length below the minimum", mutate(good, func(b []byte) { put32(b, offLength, minLength-1) }), ErrCorrupt},
		{"negative length", mutate(good, func(b []byte) { put32(b, offLength, -1) }), ErrCorrupt},
		{"length past the bytes", mutate(good, func(b []byte) { put32(b, offLength, int32(len(b))) }), ErrCorrupt},
		{"crc mismatch", func() []byte { b := slices.Clone(good); b[offCRC] ^= 1; return b }(), ErrCorrupt},
		{"magic 0", mutate(good, func(b []byte) { b[offMagic] = 0 }), ErrUnsupportedMagic},
		{"magic 1", mutate(good, func(b []byte) { b[offMagic] = 1 }), ErrUnsupportedMagic},
		{"magic 3", mutate(good, func(b []byte) { b[offMagic] = 3 }), ErrCorrupt},
		{"base offset not 0", mutate(good, func(b []byte) { put64(b, offBaseOffset, 5) }), ErrInvalidRecord},
		{"codec 5", mutate(good, func(b []byte) { put16(b, offAttributes, 5) }), ErrUnsupportedCodec},
		{"codec 6", mutate(good, func(b []byte) { put16(b, offAttributes, 6) }), ErrUnsupportedCodec},
		{"codec 7", mutate(good, func(b []byte) { put16(b, offAttributes, 7) }), ErrUnsupportedCodec},
		{"zero records", mutate(good, func(b []byte) { put32(b, offNumRecords, 0); put32(b, offLastOffsetDelta, -1) }), ErrInvalidRecord},
		{"zero records, delta 0", mutate(good, func(b []byte) { put32(b, offNumRecords, 0) }), ErrInvalidRecord},
		{"negative record count", mutate(good, func(b []byte) { put32(b, offNumRecords, -3) }), ErrInvalidRecord},
		{"negative last offset delta", mutate(good, func(b []byte) { put32(b, offLastOffsetDelta, -1) }), ErrInvalidRecord},
		{"last offset delta past the count", mutate(good, func(b []byte) { put32(b, offLastOffsetDelta, 3) }), ErrInvalidRecord},
		{"last offset delta short of the count", mutate(good, func(b []byte) { put32(b, offLastOffsetDelta, 1) }), ErrInvalidRecord},
		{"control batch from a producer", mutate(good, func(b []byte) { put16(b, offAttributes, AttrControl|AttrTransactional) }), ErrInvalidRecord},
		{"producer id with sequence -1", mutate(good, func(b []byte) { put32(b, offBaseSequence, -1) }), ErrInvalidRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Validate(tc.batch)
			if (tc.want == nil) != (err == nil) || !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			for _, other := range []error{ErrCorrupt, ErrInvalidRecord, ErrUnsupportedMagic, ErrUnsupportedCodec} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("err %v also matches %v", err, other)
				}
			}
		})
	}
}

// Every single-bit flip anywhere in the CRC-covered region, and every flip
// of the stored CRC, is caught as corruption. Flips in BaseOffset, Length
// and magic fail their own checks; flips in the leader epoch are harmless.
func TestValidateEveryFlippedByte(t *testing.T) {
	for _, name := range []string{"gzip.batch", "snappy.batch", "lz4.batch", "zstd.batch", "none.batch"} {
		t.Run(name, func(t *testing.T) {
			b := readGolden(t, name)
			flips := []byte{0x01, 0x80}
			if len(b) > 4<<10 {
				flips = []byte{0xff} // every byte still, fewer passes over 45 KB
			}
			for i := range b {
				for _, bit := range flips {
					b[i] ^= bit
					_, err := Validate(b)
					b[i] ^= bit
					var want error
					switch {
					case i < offLength:
						want = ErrInvalidRecord
					case i < offLeaderEpoch:
						want = ErrCorrupt
					case i < offMagic:
						want = nil
					case i == offMagic && b[i]^bit <= 1:
						want = ErrUnsupportedMagic
					default:
						want = ErrCorrupt
					}
					if (want == nil) != (err == nil) || !errors.Is(err, want) {
						t.Fatalf("byte %d bit %#x flipped: err = %v, want %v", i, bit, err, want)
					}
				}
			}
		})
	}
}

func TestValidateTruncation(t *testing.T) {
	for _, name := range []string{"gzip.batch", "none.batch"} {
		b := readGolden(t, name)
		for n := 0; n < len(b); n++ {
			if n > 2*HeaderSize {
				n += 97 // every length near the header, a sample of the rest
			}
			if _, err := Validate(b[:min(n, len(b)-1)]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s cut to %d bytes: err = %v, want ErrCorrupt", name, n, err)
			}
		}
	}
}

// Validate is on the produce hot path: it must not allocate.
func TestValidateAllocs(t *testing.T) {
	b := readGolden(t, "zstd.batch")
	if n := testing.AllocsPerRun(100, func() {
		if _, err := Validate(b); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Validate allocates %v times per call", n)
	}
}

func TestCheckCRC(t *testing.T) {
	b := readGolden(t, "lz4.batch")
	if err := CheckCRC(b); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"flipped record byte", func() []byte { c := slices.Clone(b); c[len(c)-1] ^= 1; return c }(), ErrCorrupt},
		{"truncated", b[:len(b)-1], ErrCorrupt},
		{"old magic", func() []byte { c := slices.Clone(b); c[offMagic] = 1; return c }(), ErrUnsupportedMagic},
	} {
		if err := CheckCRC(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}
