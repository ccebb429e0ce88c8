package recordbatch

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestRecordsGolden(t *testing.T) {
	for _, g := range goldenCodecs {
		t.Run(g.codec.String(), func(t *testing.T) {
			rs, err := Records(readGolden(t, g.file), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			equalRecords(t, rs, goldenRecords())
		})
	}
}

// The Java client's snappy framing, from a real client.
func TestRecordsGoldenXerial(t *testing.T) {
	b := readGolden(t, "snappy-xerial.batch")
	if !bytes.HasPrefix(b[HeaderSize:], xerialMagic) {
		t.Fatal("golden batch is not xerial framed")
	}
	rs, err := Records(b, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var want []Record
	for i := range 24 {
		want = append(want, Record{
			Offset: int64(i), OffsetDelta: int32(i), Timestamp: goldenBase + int64(i),
			Key:   []byte(fmt.Sprintf("x%02d", i)),
			Value: []byte(strings.Repeat(fmt.Sprintf("xerial record %02d; ", i), 200)),
		})
	}
	equalRecords(t, rs, want)
}

func TestRecordsControlBatch(t *testing.T) {
	chunk := readGolden(t, "fetch-chunk.bin")
	var last Batch
	for b, err := range Iterate(chunk) {
		if err != nil {
			t.Fatal(err)
		}
		last = b
	}
	rs, err := Records(last.Bytes, 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	// A commit marker: key version 0, type 1 (commit); value version 0,
	// coordinator epoch 0.
	if len(rs) != 1 || rs[0].Offset != 7 || !bytes.Equal(rs[0].Key, []byte{0, 0, 0, 1}) || !bytes.Equal(rs[0].Value, []byte{0, 0, 0, 0, 0, 0}) {
		t.Errorf("control records %+v", rs)
	}
}

// Encoding the golden records with the golden header reproduces the bytes
// franz-go wrote, so Encode agrees with a real client bit for bit.
func TestEncodeMatchesClient(t *testing.T) {
	golden := readGolden(t, "none.batch")
	h, _ := ParseHeader(golden)
	b, err := Encode(h, goldenRecords(), CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, golden) {
		t.Errorf("Encode differs from the client's batch (%d vs %d bytes)", len(b), len(golden))
	}
}

// recordSets are the inputs of the round trip tests: every null/empty
// combination of keys, values, header keys and header values.
func recordSets() map[string][]Record {
	ts := goldenBase
	return map[string][]Record{
		"golden": goldenRecords(),
		"nulls and empties": {
			{Timestamp: ts, Key: nil, Value: nil},
			{Timestamp: ts + 1, Key: []byte{}, Value: []byte{}},
			{Timestamp: ts + 2, Key: nil, Value: []byte{}},
			{Timestamp: ts + 3, Key: []byte{}, Value: nil},
			{Timestamp: ts + 4, Key: []byte("k"), Value: []byte("v"), Headers: []kmsg.Header{{Key: "", Value: nil}, {Key: "", Value: []byte{}}, {Key: "ключ", Value: []byte("значение")}}},
		},
		"one record":           {{Timestamp: ts, Key: []byte("only"), Value: []byte("one")}},
		"timestamps backwards": {{Timestamp: ts + 1000}, {Timestamp: ts}, {Timestamp: 0}, {Timestamp: -1}},
		"many":                 sizedRecords(64 << 10),
	}
}

// withOffsets fills Offset and OffsetDelta as Records reports them for a
// batch with base offset base and deltas in record order.
func withOffsets(rs []Record, base int64) []Record {
	out := slices.Clone(rs)
	for i := range out {
		out[i].OffsetDelta = int32(i)
		out[i].Offset = base + int64(i)
	}
	return out
}

func TestEncodeValidateRecordsRoundTrip(t *testing.T) {
	for name, rs := range recordSets() {
		for _, codec := range allCodecs {
			t.Run(name+"/"+codec.String(), func(t *testing.T) {
				h := testHeader(rs)
				h.Attributes = AttrTransactional
				b, err := Encode(h, rs, codec)
				if err != nil {
					t.Fatal(err)
				}
				got, err := Validate(b)
				if err != nil {
					t.Fatal(err)
				}
				want := h
				want.Length, want.Magic, want.CRC = int32(len(b)-12), 2, got.CRC
				want.Attributes |= int16(codec)
				want.LastOffsetDelta, want.NumRecords = int32(len(rs)-1), int32(len(rs))
				if got != want {
					t.Errorf("header\n got %+v\nwant %+v", got, want)
				}
				decoded, err := Records(b, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				equalRecords(t, decoded, withOffsets(rs, 0))

				SetBaseOffset(b, 1000)
				decoded, err = Records(b, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				equalRecords(t, decoded, withOffsets(rs, 1000))
			})
		}
	}
}

// Compaction keeps original offsets with gaps, and a LastOffsetDelta that
// reserves the offsets of dropped records.
func TestEncodeExplicitOffsetDeltas(t *testing.T) {
	rs := []Record{
		{OffsetDelta: 0, Timestamp: goldenBase, Key: []byte("a"), Value: []byte("1")},
		{OffsetDelta: 3, Timestamp: goldenBase + 3, Key: []byte("b"), Value: []byte("2")},
		{OffsetDelta: 7, Timestamp: goldenBase + 7, Key: []byte("c"), Value: nil},
	}
	h := testHeader(rs)
	h.BaseOffset, h.LastOffsetDelta = 500, 9
	b, err := Encode(h, rs, CodecLZ4)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := ParseHeader(b)
	if got.LastOffsetDelta != 9 || got.NumRecords != 3 || got.BaseOffset != 500 {
		t.Errorf("header %+v", got)
	}
	decoded, err := Records(b, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i, off := range []int64{500, 503, 507} {
		if decoded[i].Offset != off {
			t.Errorf("record %d at offset %d, want %d", i, decoded[i].Offset, off)
		}
	}
	// Such a batch is fine in storage but not from a producer.
	if _, err := Validate(mutate(b, func(b []byte) { put64(b, 0, 0) })); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("Validate of a batch with gaps: %v", err)
	}
	// A LastOffsetDelta below the last record's delta is raised to it.
	h.LastOffsetDelta = 2
	b, _ = Encode(h, rs, CodecNone)
	if got, _ := ParseHeader(b); got.LastOffsetDelta != 7 {
		t.Errorf("LastOffsetDelta %d, want 7", got.LastOffsetDelta)
	}
}

func TestEncodeEmptyBatch(t *testing.T) {
	for _, codec := range allCodecs {
		b, err := Encode(Header{ProducerID: 9, LastOffsetDelta: 4, FirstTimestamp: -1, MaxTimestamp: -1}, nil, codec)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := ParseHeader(b)
		rs, err := Records(b, 1<<10)
		if err != nil || len(rs) != 0 || h.NumRecords != 0 || h.LastOffsetDelta != 4 {
			t.Errorf("%v: %d records, header %+v, err %v", codec, len(rs), h, err)
		}
		if _, err := Validate(b); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%v: Validate of an empty batch: %v", codec, err)
		}
	}
}

func TestEncodeLogAppendTime(t *testing.T) {
	rs := goldenRecords()[:3]
	h := testHeader(rs)
	h.Attributes = AttrLogAppendTime
	h.MaxTimestamp = 1800000000000
	b, err := Encode(h, rs, CodecGzip)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := Records(b, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range decoded {
		if r.Timestamp != h.MaxTimestamp {
			t.Errorf("record %d timestamp %d, want the append time %d", i, r.Timestamp, h.MaxTimestamp)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	r := func(delta int32) Record { return Record{OffsetDelta: delta} }
	for _, tc := range []struct {
		name  string
		rs    []Record
		codec Codec
		want  error
	}{
		{"deltas decrease", []Record{r(0), r(5), r(2)}, CodecNone, ErrInvalidRecord},
		{"deltas repeat", []Record{r(1), r(1)}, CodecNone, ErrInvalidRecord},
		{"negative delta", []Record{r(-1), r(4)}, CodecNone, ErrInvalidRecord},
		{"codec 5", nil, 5, ErrUnsupportedCodec},
	} {
		if _, err := Encode(Header{}, tc.rs, tc.codec); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestTimestampBounds(t *testing.T) {
	first, maxTS := TimestampBounds(goldenRecords())
	if first != goldenBase || maxTS != goldenBase+35 {
		t.Errorf("bounds %d %d", first, maxTS)
	}
	if first, maxTS := TimestampBounds(nil); first != -1 || maxTS != -1 {
		t.Errorf("empty bounds %d %d", first, maxTS)
	}
}

// Records sections that no client writes: Records must reject each with
// ErrCorrupt (or accept the one legal oddity, padded varints).
func TestRecordsMalformed(t *testing.T) {
	rec := func(key string) kmsg.Record { return kmsg.Record{Key: []byte(key), Value: []byte("v")} }
	two := appendRecord(appendRecord(nil, rec("a")), rec("b"))
	h := func(n int32) Header { return Header{NumRecords: n, LastOffsetDelta: n - 1, ProducerID: -1} }
	junkInside := func() []byte { // a record whose Length covers a stray byte
		r := rec("a")
		r.Length = int32(bodySize(&r)) + 1
		return append(r.AppendTo(nil), 0)
	}()
	padded := func() []byte { // offset delta 0 written as two bytes, 0x80 0x00
		r := rec("a")
		r.Length = int32(bodySize(&r)) + 1
		b := r.AppendTo(nil)
		i := 1 + 1 + 1 // length, attributes, timestamp delta
		return slices.Concat(b[:i], []byte{0x80, 0x00}, b[i+1:])
	}()
	for _, tc := range []struct {
		name    string
		batch   []byte
		want    error
		records int
	}{
		{"two records", rawBatch(h(2), two), nil, 2},
		{"padded varint", rawBatch(h(1), padded), nil, 1},
		{"fewer records than declared", rawBatch(h(3), two), ErrCorrupt, 0},
		{"more records than declared", rawBatch(h(1), two), ErrCorrupt, 0},
		{"bytes inside a record's length", rawBatch(h(1), junkInside), ErrCorrupt, 0},
		{"record length past the end", rawBatch(h(2), two[:len(two)-1]), ErrCorrupt, 0},
		{"negative record length", rawBatch(h(1), []byte{0x01}), ErrCorrupt, 0},
		{"overlong length varint", rawBatch(h(1), []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}), ErrCorrupt, 0},
		{"negative record count", rawBatch(h(-1), nil), ErrCorrupt, 0},
		{"huge record count", rawBatch(h(1<<30), two), ErrCorrupt, 0},
		{"codec 6", rawBatch(Header{Attributes: 6, NumRecords: 2}, two), ErrUnsupportedCodec, 0},
		{"gzip header but garbage", rawBatch(Header{Attributes: 1, NumRecords: 2}, two), ErrCorrupt, 0},
		{"bad crc", func() []byte { b := rawBatch(h(2), two); b[len(b)-1] ^= 1; return b }(), ErrCorrupt, 0},
		{"old magic", mutate(rawBatch(h(2), two), func(b []byte) { b[offMagic] = 1 }), ErrUnsupportedMagic, 0},
		{"trailing byte after the batch", append(rawBatch(h(2), two), 0), ErrCorrupt, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := Records(tc.batch, 1<<20)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if len(rs) != tc.records {
				t.Errorf("%d records, want %d", len(rs), tc.records)
			}
		})
	}
}

func TestRecordsLimit(t *testing.T) {
	rs := sizedRecords(100 << 10)
	for _, codec := range allCodecs {
		b := mustEncode(t, rs, codec)
		if _, err := Records(b, 10<<10); !errors.Is(err, ErrLimit) || !errors.Is(err, ErrCorrupt) {
			t.Errorf("%v: err = %v, want ErrLimit", codec, err)
		}
		if _, err := Records(b, 200<<10); err != nil {
			t.Errorf("%v: %v", codec, err)
		}
	}
}
