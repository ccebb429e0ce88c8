package recordbatch

import (
	"errors"
	"slices"
	"testing"
)

// errBadSkip stands for Patch's error about a bad skip list, which wraps
// no sentinel.
var errBadSkip = errors.New("bad skip list")

type seen struct {
	base int64
	size int
}

func collect(t *testing.T, seq func(func(Batch, error) bool)) ([]seen, error) {
	t.Helper()
	var out []seen
	for b, err := range seq {
		if err != nil {
			return out, err
		}
		if b.Size() != len(b.Bytes) {
			t.Fatalf("batch at %d: header size %d, %d bytes", b.BaseOffset, b.Size(), len(b.Bytes))
		}
		out = append(out, seen{b.BaseOffset, len(b.Bytes)})
	}
	return out, nil
}

func TestIterateGoldenChunk(t *testing.T) {
	chunk := readGolden(t, "fetch-chunk.bin")
	var bases []int64
	var last Batch
	total := 0
	for b, err := range Iterate(chunk) {
		if err != nil {
			t.Fatal(err)
		}
		if &b.Bytes[0] != &chunk[total] {
			t.Fatal("Bytes is a copy, not a subslice")
		}
		if err := CheckCRC(b.Bytes); err != nil {
			t.Fatal(err)
		}
		bases = append(bases, b.BaseOffset)
		total += len(b.Bytes)
		last = b
	}
	if !slices.Equal(bases, []int64{0, 2, 4, 6, 7}) || total != len(chunk) {
		t.Errorf("bases %v, %d of %d bytes", bases, total, len(chunk))
	}
	if !last.Control() || !last.Transactional() {
		t.Errorf("last batch attributes %#x, want a commit marker", last.Attributes)
	}
}

func TestIterate(t *testing.T) {
	a := mustEncode(t, goldenRecords()[:2], CodecNone)
	b := mutate(mustEncode(t, goldenRecords()[2:5], CodecGzip), func(b []byte) { put64(b, 0, 2) })
	ab := slices.Concat(a, b)
	old := mutate(a, func(b []byte) { b[offMagic] = 1 })
	tiny := mutate(a, func(b []byte) { put32(b, offLength, 10) })
	both := []seen{{0, len(a)}, {2, len(b)}}
	for _, tc := range []struct {
		name     string
		in       []byte
		want     []seen // batches yielded before the end or the error
		err      error  // from Iterate
		fetchErr error  // from IterateFetch, which ignores trailing partial batches
	}{
		{name: "empty", in: nil},
		{name: "one", in: a, want: both[:1]},
		{name: "two", in: ab, want: both},
		{name: "partial length field", in: slices.Concat(ab, b[:5]), want: both, err: ErrCorrupt},
		{name: "partial before magic", in: slices.Concat(ab, b[:offMagic]), want: both, err: ErrCorrupt},
		{name: "partial header", in: slices.Concat(ab, b[:HeaderSize-1]), want: both, err: ErrCorrupt},
		{name: "partial records", in: slices.Concat(ab, b[:len(b)-1]), want: both, err: ErrCorrupt},
		{name: "trailing length below minimum", in: slices.Concat(ab, tiny[:20]), want: both, err: ErrCorrupt, fetchErr: ErrCorrupt},
		{name: "length below minimum first", in: slices.Concat(tiny, ab), err: ErrCorrupt, fetchErr: ErrCorrupt},
		{name: "old magic", in: slices.Concat(a, old), want: both[:1], err: ErrUnsupportedMagic, fetchErr: ErrUnsupportedMagic},
		{name: "partial old magic", in: slices.Concat(a, old[:20]), want: both[:1], err: ErrUnsupportedMagic, fetchErr: ErrUnsupportedMagic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := collect(t, Iterate(tc.in))
			if !slices.Equal(got, tc.want) || !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Errorf("Iterate: %v, %v; want %v, %v", got, err, tc.want, tc.err)
			}
			got, err = collect(t, IterateFetch(tc.in))
			if !slices.Equal(got, tc.want) || !errors.Is(err, tc.fetchErr) || (err == nil) != (tc.fetchErr == nil) {
				t.Errorf("IterateFetch: %v, %v; want %v, %v", got, err, tc.want, tc.fetchErr)
			}
		})
	}
}

func TestIterateBreak(t *testing.T) {
	chunk := readGolden(t, "fetch-chunk.bin")
	n := 0
	for range Iterate(chunk) {
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Errorf("stopped after %d batches", n)
	}
}

// compacted returns a batch whose LastOffsetDelta reserves offsets of
// records compaction removed: records at deltas 0 and 3, LastOffsetDelta 4.
func compacted(t *testing.T) []byte {
	rs := goldenRecords()[:2]
	rs[0].OffsetDelta, rs[1].OffsetDelta = 0, 3
	h := testHeader(rs)
	h.LastOffsetDelta = 4
	b, err := Encode(h, rs, CodecZstd)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPatch(t *testing.T) {
	golden := readGolden(t, "fetch-chunk.bin") // 5 batches of 2, 2, 2, 1 and 1 offsets
	withCompacted := slices.Concat(compacted(t), golden)
	for _, tc := range []struct {
		name      string
		chunk     []byte
		skip      []int
		wantBases []int64
		wantNext  int64
		err       error
	}{
		{name: "no skips", chunk: golden, wantBases: []int64{1000, 1002, 1004, 1006, 1007}, wantNext: 1008},
		{name: "empty chunk", chunk: nil, wantBases: nil, wantNext: 1000},
		{name: "skip first", chunk: golden, skip: []int{0}, wantBases: []int64{1000, 1002, 1004, 1005}, wantNext: 1006},
		{name: "skip middle and last", chunk: golden, skip: []int{1, 4}, wantBases: []int64{1000, 1002, 1004}, wantNext: 1005},
		{name: "skip all", chunk: golden, skip: []int{0, 1, 2, 3, 4}, wantBases: nil, wantNext: 1000},
		{name: "compacted batch keeps its offset range", chunk: withCompacted, wantBases: []int64{1000, 1005, 1007, 1009, 1011, 1012}, wantNext: 1013},
		{name: "skip out of range", chunk: golden, skip: []int{5}, err: errBadSkip},
		{name: "skip negative", chunk: golden, skip: []int{-1}, err: errBadSkip},
		{name: "skip unordered", chunk: golden, skip: []int{2, 1}, err: errBadSkip},
		{name: "skip duplicate", chunk: golden, skip: []int{1, 1}, err: errBadSkip},
		{name: "trailing partial batch", chunk: golden[:len(golden)-1], err: ErrCorrupt},
		{name: "old magic", chunk: mutate(golden, func(b []byte) { b[offMagic] = 0 }), err: ErrUnsupportedMagic},
		{name: "negative last offset delta", chunk: mutate(golden, func(b []byte) { put32(b, offLastOffsetDelta, -2) }), err: ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chunk := slices.Clone(tc.chunk)
			patched, next, err := Patch(chunk, 1000, 12, tc.skip)
			if tc.err != nil {
				if tc.err == errBadSkip {
					if err == nil || knownError(err) {
						t.Fatalf("err = %v, want a caller error wrapping no sentinel", err)
					}
				} else if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if !slices.Equal(chunk, tc.chunk) {
					t.Error("a failed Patch modified the chunk")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if next != tc.wantNext {
				t.Errorf("next = %d, want %d", next, tc.wantNext)
			}
			var bases []int64
			for b, err := range Iterate(patched) {
				if err != nil {
					t.Fatal(err)
				}
				if b.PartitionLeaderEpoch != 12 {
					t.Errorf("batch at %d has epoch %d", b.BaseOffset, b.PartitionLeaderEpoch)
				}
				if err := CheckCRC(b.Bytes); err != nil {
					t.Errorf("batch at %d: %v", b.BaseOffset, err)
				}
				bases = append(bases, b.BaseOffset)
			}
			if !slices.Equal(bases, tc.wantBases) {
				t.Errorf("bases %v, want %v", bases, tc.wantBases)
			}
			if len(tc.skip) == 0 && len(chunk) > 0 && &patched[0] != &chunk[0] {
				t.Error("without skips, Patch should patch in place and return the chunk")
			}
		})
	}
}

// A patched chunk decodes to consecutive offsets across batches, and the
// skipped batch's records are gone.
func TestPatchRecords(t *testing.T) {
	chunk := slices.Clone(readGolden(t, "fetch-chunk.bin"))
	patched, _, err := Patch(chunk, 50, 1, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	var offsets []int64
	var keys []string
	for b, err := range Iterate(patched) {
		if err != nil {
			t.Fatal(err)
		}
		rs, err := Records(b.Bytes, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			offsets = append(offsets, r.Offset)
			keys = append(keys, string(r.Key))
		}
	}
	if !slices.Equal(offsets, []int64{50, 51, 52, 53, 54, 55}) {
		t.Errorf("offsets %v", offsets)
	}
	if !slices.Equal(keys[:5], []string{"b0-r0", "b0-r1", "b2-r0", "b2-r1", "txn"}) {
		t.Errorf("keys %q", keys)
	}
}
