package chunkread

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/objstore/mem"
	"github.com/silt-io/silt/recordbatch"
	"github.com/silt-io/silt/segment"
)

// batch encodes a producer's batch of n records (base offset 0, as stored).
func batch(t *testing.T, n int, tag string) []byte {
	t.Helper()
	recs := make([]recordbatch.Record, n)
	for i := range recs {
		recs[i] = recordbatch.Record{Value: fmt.Appendf(nil, "%s-%d", tag, i), Timestamp: 1000}
	}
	b, err := recordbatch.Encode(recordbatch.Header{FirstTimestamp: 1000, MaxTimestamp: 1000, ProducerID: -1, BaseSequence: -1}, recs, recordbatch.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stored puts a segment with one chunk holding batches in a memory bucket,
// compressed or not, and returns the bucket and the chunk as a commit
// would describe it at offset base.
func stored(t *testing.T, compress bool, base int64, batches ...[]byte) (objstore.Bucket, journal.Chunk) {
	t.Helper()
	id := segment.NewID()
	data, infos, err := segment.Build(id, []segment.ChunkInput{{Topic: "t", Data: bytes.Join(batches, nil), Compress: compress, Batches: int32(len(batches))}})
	if err != nil {
		t.Fatal(err)
	}
	b := mem.New()
	key := segment.Key(id)
	if _, err := b.Put(context.Background(), key, data); err != nil {
		t.Fatal(err)
	}
	in := infos[0]
	next := base
	for _, bt := range batches {
		h, _ := recordbatch.ParseHeader(bt)
		next += int64(h.LastOffsetDelta) + 1
	}
	return b, journal.Chunk{Object: key, Pos: in.Pos, Len: in.Len, RawLen: in.RawLen, Codec: uint8(in.Codec), CRC: in.CRC,
		BaseOffset: base, NextOffset: next}
}

type offsets struct {
	base  int64
	count int32
}

func TestRead(t *testing.T) {
	three, two, one := batch(t, 3, "a"), batch(t, 2, "b"), batch(t, 1, "c")
	for _, tc := range []struct {
		name     string
		compress bool
		change   func(ch *journal.Chunk)
		want     []offsets // each served batch's base offset and record count
		err      string
	}{
		{name: "plain", want: []offsets{{100, 3}, {103, 2}, {105, 1}}},
		{name: "compressed", compress: true, want: []offsets{{100, 3}, {103, 2}, {105, 1}}},
		{name: "skipped batch dropped", change: func(ch *journal.Chunk) { ch.Skip = []int32{1}; ch.NextOffset -= 2 },
			want: []offsets{{100, 3}, {103, 1}}},
		{name: "skipped batch, compressed", compress: true, change: func(ch *journal.Chunk) { ch.Skip = []int32{0}; ch.NextOffset -= 3 },
			want: []offsets{{100, 2}, {102, 1}}},
		{name: "journal disagrees on the end", change: func(ch *journal.Chunk) { ch.NextOffset++ }, err: "the journal says 107"},
		{name: "bad CRC", change: func(ch *journal.Chunk) { ch.CRC ^= 1 }, err: "decode chunk"},
		{name: "skip names a batch the chunk lacks", change: func(ch *journal.Chunk) { ch.Skip = []int32{7} }, err: "patch chunk"},
		{name: "missing object", change: func(ch *journal.Chunk) { ch.Object = "segments/00/none.seg" }, err: "read chunk segments/00/none.seg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bucket, ch := stored(t, tc.compress, 100, three, two, one)
			if tc.change != nil {
				tc.change(&ch)
			}
			got, err := Read(context.Background(), bucket, ch)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Read error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var seen []offsets
			for b, err := range recordbatch.Iterate(got) {
				if err != nil {
					t.Fatal(err)
				}
				if b.PartitionLeaderEpoch != LeaderEpoch {
					t.Errorf("batch at %d has epoch %d", b.BaseOffset, b.PartitionLeaderEpoch)
				}
				if err := recordbatch.CheckCRC(b.Bytes); err != nil {
					t.Errorf("batch at %d: %v", b.BaseOffset, err)
				}
				seen = append(seen, offsets{b.BaseOffset, b.NumRecords})
			}
			if fmt.Sprint(seen) != fmt.Sprint(tc.want) {
				t.Errorf("served batches %v, want %v", seen, tc.want)
			}
		})
	}
}

// Decode's errors are errors, whatever bytes come back for a chunk.
func TestDecodeGarbage(t *testing.T) {
	_, ch := stored(t, false, 0, batch(t, 1, "x"))
	for _, data := range [][]byte{nil, []byte("noise"), bytes.Repeat([]byte{0xff}, int(ch.Len))} {
		if _, err := Decode(ch, data); err == nil {
			t.Errorf("Decode(%q) succeeded", data)
		} else if errors.Is(err, context.Canceled) {
			t.Errorf("Decode(%q): unexpected %v", data, err)
		}
	}
}

// A transaction marker chunk reads as one control batch at its offset,
// of the size the journal counts, that recordbatch.ParseMarker reads back.
func TestMarkerBatch(t *testing.T) {
	for _, commit := range []bool{true, false} {
		ch := journal.Chunk{BaseOffset: 41, NextOffset: 42, RawLen: journal.MarkerBatchSize,
			Marker: &journal.TxnMarker{ProducerID: 12, Epoch: 3, Commit: commit, Time: 1_700_000_000_000}}
		b, err := Read(context.Background(), nil, ch)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != journal.MarkerBatchSize {
			t.Errorf("marker batch is %d bytes, the journal counts %d", len(b), journal.MarkerBatchSize)
		}
		h, err := recordbatch.ParseHeader(b)
		if err != nil || h.BaseOffset != 41 || h.LastOffset() != 41 || h.MaxTimestamp != ch.Marker.Time {
			t.Errorf("header %+v, %v", h, err)
		}
		m, err := recordbatch.ParseMarker(b)
		if err != nil || m.ProducerID != 12 || m.ProducerEpoch != 3 || m.Commit != commit {
			t.Errorf("marker %+v, %v", m, err)
		}
	}
}
