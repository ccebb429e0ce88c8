package recordbatch

import (
	"errors"
	"slices"
	"testing"
)

// The fields of the golden uncompressed batch, checked by hand against the
// hex dump: kgo sends BaseOffset 0 and leader epoch -1, and FirstTimestamp
// is the first record's timestamp even though record 3 is earlier.
func TestParseHeaderGolden(t *testing.T) {
	b := readGolden(t, "none.batch")
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Header{
		BaseOffset: 0, Length: 45407, PartitionLeaderEpoch: -1, Magic: 2, CRC: 3127884118,
		Attributes: 0, LastOffsetDelta: 6, FirstTimestamp: goldenBase, MaxTimestamp: goldenBase + 35,
		ProducerID: 4810354531942172303, ProducerEpoch: 0, BaseSequence: 0, NumRecords: 7,
	}
	if h != want {
		t.Errorf("header\n got %+v\nwant %+v", h, want)
	}
	if h.Size() != len(b) {
		t.Errorf("Size() = %d, file is %d bytes", h.Size(), len(b))
	}
	if h.LastOffset() != 6 {
		t.Errorf("LastOffset() = %d, want 6", h.LastOffset())
	}
	for _, g := range goldenCodecs {
		h, err := ParseHeader(readGolden(t, g.file))
		if err != nil || h.Codec() != g.codec {
			t.Errorf("%s: codec %v, err %v; want %v", g.file, h.Codec(), err, g.codec)
		}
	}
}

func TestParseHeaderErrors(t *testing.T) {
	full := readGolden(t, "gzip.batch")
	withMagic := func(n int, magic byte) []byte {
		b := slices.Clone(full[:n])
		b[offMagic] = magic
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"nil", nil, ErrCorrupt},
		{"magic not yet readable", full[:offMagic], ErrCorrupt},
		{"v2 magic, short header", full[:HeaderSize-1], ErrCorrupt},
		{"v0 message set shorter than a v2 header", withMagic(30, 0), ErrUnsupportedMagic},
		{"magic 1", withMagic(len(full), 1), ErrUnsupportedMagic},
		{"magic 3: no format", withMagic(len(full), 3), ErrCorrupt},
		{"magic -1: no format", withMagic(len(full), 0xff), ErrCorrupt},
		{"exactly a header", full[:HeaderSize], nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseHeader(tc.in)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestHeaderAttributes(t *testing.T) {
	for _, tc := range []struct {
		attrs        int16
		codec        Codec
		tsType       int8
		txn, control bool
		codecString  string
		codecValid   bool
	}{
		{0, CodecNone, 0, false, false, "none", true},
		{1 | AttrLogAppendTime, CodecGzip, 1, false, false, "gzip", true},
		{2 | AttrTransactional, CodecSnappy, 0, true, false, "snappy", true},
		{3 | AttrTransactional | AttrControl, CodecLZ4, 0, true, true, "lz4", true},
		{4 | AttrDeleteHorizon, CodecZstd, 0, false, false, "zstd", true},
		{5, Codec(5), 0, false, false, "codec(5)", false},
		{7 | AttrLogAppendTime | AttrTransactional | AttrControl, Codec(7), 1, true, true, "codec(7)", false},
	} {
		h := Header{Attributes: tc.attrs}
		if h.Codec() != tc.codec || h.TimestampType() != tc.tsType || h.Transactional() != tc.txn || h.Control() != tc.control {
			t.Errorf("attributes %#x: codec %v tstype %d txn %v control %v", tc.attrs, h.Codec(), h.TimestampType(), h.Transactional(), h.Control())
		}
		if h.Codec().String() != tc.codecString || h.Codec().Valid() != tc.codecValid {
			t.Errorf("attributes %#x: codec string %q valid %v", tc.attrs, h.Codec().String(), h.Codec().Valid())
		}
	}
}

// SetBaseOffset and SetLeaderEpoch write fields outside the CRC: the batch
// stays valid, and the rest of it is untouched.
func TestSetBaseOffsetAndEpoch(t *testing.T) {
	for _, g := range goldenCodecs {
		orig := readGolden(t, g.file)
		b := slices.Clone(orig)
		SetBaseOffset(b, 1<<40+3)
		SetLeaderEpoch(b, 17)
		h, err := ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if h.BaseOffset != 1<<40+3 || h.PartitionLeaderEpoch != 17 {
			t.Errorf("%s: base %d epoch %d", g.file, h.BaseOffset, h.PartitionLeaderEpoch)
		}
		if err := CheckCRC(b); err != nil {
			t.Errorf("%s: CRC after patching: %v", g.file, err)
		}
		if !slices.Equal(b[offMagic:], orig[offMagic:]) || !slices.Equal(b[offLength:offLeaderEpoch], orig[offLength:offLeaderEpoch]) {
			t.Errorf("%s: patching changed other bytes", g.file)
		}
		rs, err := Records(b, 1<<20)
		if err != nil || rs[0].Offset != 1<<40+3 || rs[6].Offset != 1<<40+9 {
			t.Errorf("%s: records after patching: %v", g.file, err)
		}
	}
	short := make([]byte, HeaderSize-1)
	SetBaseOffset(short, -1) // must not panic
	SetLeaderEpoch(short, -1)
	if !slices.Equal(short, make([]byte, HeaderSize-1)) {
		t.Error("a short slice was modified")
	}
}

// A log-append-time batch keeps its records and passes validation; every
// record reads back with the append time.
func TestSetLogAppendTime(t *testing.T) {
	for _, g := range goldenCodecs {
		b := slices.Clone(readGolden(t, g.file))
		before, err := Records(b, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		const ts = 1_700_000_000_123
		SetLogAppendTime(b, ts)
		h, err := Validate(b)
		if err != nil {
			t.Fatalf("%s: stamped batch invalid: %v", g.file, err)
		}
		if h.TimestampType() != 1 || h.MaxTimestamp != ts || h.Codec() != g.codec {
			t.Errorf("%s: timestamp type %d, max %d, codec %v", g.file, h.TimestampType(), h.MaxTimestamp, h.Codec())
		}
		after, err := Records(b, 1<<20)
		if err != nil || len(after) != len(before) {
			t.Fatalf("%s: %d records, %v; want %d", g.file, len(after), err, len(before))
		}
		for i, r := range after {
			if r.Timestamp != ts || string(r.Value) != string(before[i].Value) {
				t.Errorf("%s record %d: timestamp %d value %q", g.file, i, r.Timestamp, r.Value)
			}
		}
	}
	SetLogAppendTime(make([]byte, HeaderSize-1), 1) // short: untouched, no panic
}
