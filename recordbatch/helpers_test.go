package recordbatch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The golden batches in testdata were produced by franz-go's kgo client
// (v1.22.3) against its in-memory kfake broker and captured from the
// produce requests; fetch-chunk.bin is a fetch response's records field
// from the same broker. The capture program is not part of the repository;
// it produced these records in one batch per codec:
//
//	none.batch gzip.batch snappy.batch (raw snappy) lz4.batch zstd.batch:
//	    goldenRecords() below, offsets 0..6
//	snappy-xerial.batch: 24 records x00..x23 written with
//	    kgo.StreamingCompression(), which frames snappy as xerial like the
//	    Java client does
//	fetch-chunk.bin: three batches of two records (offsets 0..5), a
//	    transactional batch (offset 6) and its commit marker (offset 7)
var goldenCodecs = []struct {
	file  string
	codec Codec
}{
	{"none.batch", CodecNone},
	{"gzip.batch", CodecGzip},
	{"snappy.batch", CodecSnappy},
	{"lz4.batch", CodecLZ4},
	{"zstd.batch", CodecZstd},
}

const goldenBase = int64(1700000000000)

// goldenRecords are the records the capture program produced into every
// codec's golden batch. They cover a null key, an empty key and value, a
// tombstone, headers with an empty key and a null or empty value, a 45 KB
// value and binary bytes.
func goldenRecords() []Record {
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}
	big := []byte(strings.Repeat("silt stores kafka batches in object storage; ", 1000))
	r := func(delta int32, ts int64, key, value []byte, hdrs ...kmsg.Header) Record {
		return Record{Offset: int64(delta), OffsetDelta: delta, Timestamp: goldenBase + ts, Key: key, Value: value, Headers: hdrs}
	}
	return []Record{
		r(0, 0, []byte("k0"), []byte("hello"), kmsg.Header{Key: "h1", Value: []byte("v1")}),
		r(1, 7, nil, []byte("null key")),
		r(2, 14, []byte{}, []byte{}),
		r(3, -5, []byte("tomb"), nil),
		r(4, 21, []byte("hdrs"), []byte("x"), kmsg.Header{Key: "", Value: nil}, kmsg.Header{Key: "a", Value: []byte{}}, kmsg.Header{Key: "b", Value: []byte("bee")}),
		r(5, 28, []byte("big"), big),
		r(6, 35, []byte("bin"), bin),
	}
}

func readGolden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mutate returns a copy of batch changed by fn with its CRC recomputed, so
// that a test reaches the check after the CRC.
func mutate(batch []byte, fn func(b []byte)) []byte {
	b := slices.Clone(batch)
	fn(b)
	if len(b) >= HeaderSize {
		putCRC(b)
	}
	return b
}

func put16(b []byte, off int, v int16) { binary.BigEndian.PutUint16(b[off:], uint16(v)) }
func put32(b []byte, off int, v int32) { binary.BigEndian.PutUint32(b[off:], uint32(v)) }
func put64(b []byte, off int, v int64) { binary.BigEndian.PutUint64(b[off:], uint64(v)) }

// rawBatch wraps an arbitrary records section in a header with a correct
// Length and CRC, for records sections Encode would never write.
func rawBatch(h Header, section []byte) []byte {
	rb := kmsg.RecordBatch{
		FirstOffset: h.BaseOffset, Length: int32(minLength + len(section)), PartitionLeaderEpoch: h.PartitionLeaderEpoch,
		Magic: 2, Attributes: h.Attributes, LastOffsetDelta: h.LastOffsetDelta, FirstTimestamp: h.FirstTimestamp,
		MaxTimestamp: h.MaxTimestamp, ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch,
		FirstSequence: h.BaseSequence, NumRecords: h.NumRecords, Records: section,
	}
	b := rb.AppendTo(nil)
	putCRC(b)
	return b
}

// appendRecord appends r encoded by kmsg with a correct Length.
func appendRecord(dst []byte, r kmsg.Record) []byte {
	r.Length = int32(bodySize(&r))
	return r.AppendTo(dst)
}

// testHeader is a producer-style header: idempotent, create time.
func testHeader(records []Record) Header {
	first, maxTS := TimestampBounds(records)
	return Header{
		PartitionLeaderEpoch: -1, FirstTimestamp: first, MaxTimestamp: maxTS,
		ProducerID: 42, ProducerEpoch: 3, BaseSequence: 100,
	}
}

// mustEncode encodes records with testHeader and fails the test on error.
func mustEncode(t testing.TB, records []Record, codec Codec) []byte {
	t.Helper()
	b, err := Encode(testHeader(records), records, codec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sizedRecords returns records whose values add up to about n bytes of
// moderately compressible text, like typical JSON payloads.
func sizedRecords(n int) []Record {
	var rs []Record
	for i := 0; n > 0; i++ {
		v := []byte(fmt.Sprintf(`{"id":%d,"user":"user-%d","event":"page_view","path":"/items/%d","ok":true}`, i, i*7919%1000, i*31%97))
		rs = append(rs, Record{Timestamp: goldenBase + int64(i), Key: []byte(fmt.Sprintf("key-%d", i%50)), Value: v})
		n -= len(v) + 20
	}
	return rs
}

// equalRecords compares records including the difference between nil and
// empty keys, values and header values.
func equalRecords(t *testing.T, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Offset != w.Offset || g.OffsetDelta != w.OffsetDelta || g.Timestamp != w.Timestamp {
			t.Errorf("record %d: offset/delta/timestamp %d/%d/%d, want %d/%d/%d", i, g.Offset, g.OffsetDelta, g.Timestamp, w.Offset, w.OffsetDelta, w.Timestamp)
		}
		sameBytes(t, fmt.Sprintf("record %d key", i), g.Key, w.Key)
		sameBytes(t, fmt.Sprintf("record %d value", i), g.Value, w.Value)
		if len(g.Headers) != len(w.Headers) {
			t.Errorf("record %d: %d headers, want %d", i, len(g.Headers), len(w.Headers))
			continue
		}
		for j := range w.Headers {
			if g.Headers[j].Key != w.Headers[j].Key {
				t.Errorf("record %d header %d key %q, want %q", i, j, g.Headers[j].Key, w.Headers[j].Key)
			}
			sameBytes(t, fmt.Sprintf("record %d header %d value", i, j), g.Headers[j].Value, w.Headers[j].Value)
		}
	}
}

func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if (got == nil) != (want == nil) || !bytes.Equal(got, want) {
		t.Errorf("%s = %q (nil %v), want %q (nil %v)", what, trunc(got), got == nil, trunc(want), want == nil)
	}
}

func trunc(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}
