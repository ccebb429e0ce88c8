package segment

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// roundTrip builds a segment, reads it back both ways (whole object, and
// trailer then footer as a ranged reader does), checks they agree with what
// Build returned, and that every chunk decodes to its input.
func roundTrip(t *testing.T, chunks []ChunkInput) ([]byte, []ChunkInfo) {
	t.Helper()
	id := NewID()
	data, built, err := Build(id, chunks)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}

	gotID, parsed, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if gotID != id || !reflect.DeepEqual(parsed, built) {
		t.Fatalf("Parse = %s %+v\nBuild = %s %+v", gotID, parsed, id, built)
	}

	size := int64(len(data))
	footerPos, footerLen, err := ParseTrailer(data[size-TrailerSize:], size)
	if err != nil {
		t.Fatalf("ParseTrailer: %v", err)
	}
	rangedID, ranged, err := ParseFooter(data[footerPos:footerPos+footerLen], size)
	if err != nil {
		t.Fatalf("ParseFooter: %v", err)
	}
	if rangedID != id || !reflect.DeepEqual(ranged, built) {
		t.Fatalf("ParseFooter = %s %+v\nBuild = %s %+v", rangedID, ranged, id, built)
	}

	for i, info := range built {
		c := chunks[i]
		if info.Topic != c.Topic || info.Partition != c.Partition || info.RawLen != int64(len(c.Data)) ||
			info.Batches != c.Batches || info.Records != c.Records {
			t.Errorf("chunk %d: info %+v does not describe its input", i, info)
		}
		if !c.Compress && info.Codec != CodecNone {
			t.Errorf("chunk %d: compressed although Compress is false", i)
		}
		raw, err := DecodeChunk(info, data[info.Pos:info.Pos+info.Len])
		if err != nil {
			t.Fatalf("chunk %d: DecodeChunk: %v", i, err)
		}
		if !bytes.Equal(raw, c.Data) {
			t.Fatalf("chunk %d: DecodeChunk returned %d bytes that differ from the %d input bytes", i, len(raw), len(c.Data))
		}
	}
	if _, _, err := Verify(data); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return data, built
}

func TestRoundTrip(t *testing.T) {
	text, nb, nr := batches(1, 64<<10)
	for _, tc := range []struct {
		name   string
		chunks []ChunkInput
	}{
		{"one byte", []ChunkInput{{Topic: "t", Partition: 0, Data: []byte{0}}}},
		{"compressible", []ChunkInput{{Topic: "events", Partition: 3, Data: text, Compress: true, Batches: nb, Records: nr}}},
		// zstd writes no content size in a frame under 256 bytes; one
		// batch of one small record is such a chunk.
		{"small compressible", []ChunkInput{
			{Topic: "events", Partition: 0, Data: text[:110], Compress: true},
			{Topic: "events", Partition: 1, Data: text[:255], Compress: true},
			{Topic: "events", Partition: 2, Data: text[:256], Compress: true},
		}},
		{"incompressible, compression asked", []ChunkInput{{Topic: "events", Data: noise(1, 4096), Compress: true}}},
		{"compressible, compression not asked", []ChunkInput{{Topic: "events", Data: text}}},
		{"unicode topics", []ChunkInput{
			{Topic: "заказы", Partition: 1, Data: text[:1000], Compress: true},
			{Topic: "注文.v2", Partition: 1, Data: text[1000:3000], Compress: true},
			{Topic: "🦀-events", Partition: 1, Data: []byte("x")},
		}},
		{"extreme numbers", []ChunkInput{
			{Topic: "a", Partition: 0, Data: []byte("zero"), Batches: 0, Records: 0},
			{Topic: "a", Partition: math.MaxInt32, Data: []byte("max"), Batches: math.MaxInt32, Records: math.MaxInt64},
		}},
		{"longest topic", []ChunkInput{{Topic: strings.Repeat("é", MaxTopicLen/2) + "x", Partition: 9, Data: []byte("y")}}},
		{"mixed flush", mixedFlush(40)},
		{"many partitions", manyPartitions(2000)},
	} {
		t.Run(tc.name, func(t *testing.T) { roundTrip(t, tc.chunks) })
	}
}

// mixedFlush is what one flush of a busy agent looks like: many partitions
// of several topics, some compressible, some compressed by the producer.
func mixedFlush(n int) []ChunkInput {
	var chunks []ChunkInput
	for i := range n {
		c := ChunkInput{Topic: fmt.Sprintf("topic-%d", i%3), Partition: int32(i / 3)}
		if i%4 == 0 {
			c.Data = noise(uint64(i), 100+i*37)
		} else {
			c.Data, c.Batches, c.Records = batches(uint64(i), 200+i*997)
			c.Compress = true
		}
		chunks = append(chunks, c)
	}
	return chunks
}

func manyPartitions(n int) []ChunkInput {
	chunks := make([]ChunkInput, n)
	for i := range chunks {
		chunks[i] = ChunkInput{Topic: "wide", Partition: int32(i), Data: []byte(fmt.Sprint(i)), Compress: i%2 == 0, Batches: 1, Records: 1}
	}
	return chunks
}

// A chunk is stored compressed only when that makes it smaller.
func TestCompressionOnlyWhenSmaller(t *testing.T) {
	text, _, _ := batches(7, 16<<10)
	_, infos := roundTrip(t, []ChunkInput{
		{Topic: "t", Partition: 0, Data: text, Compress: true},
		{Topic: "t", Partition: 1, Data: noise(7, 16<<10), Compress: true},
		{Topic: "t", Partition: 2, Data: []byte("ab"), Compress: true},
	})
	for i, want := range []Codec{CodecZstd, CodecNone, CodecNone} {
		if infos[i].Codec != want {
			t.Errorf("chunk %d stored as %v, want %v", i, infos[i].Codec, want)
		}
	}
	if infos[0].Len*3 > infos[0].RawLen {
		t.Errorf("record batches compressed only to %d of %d bytes", infos[0].Len, infos[0].RawLen)
	}
}

// The same id and inputs give the same bytes, with or without parallel
// compression, so a retried PUT rewrites identical content.
func TestBuildIsDeterministic(t *testing.T) {
	id := NewID()
	chunks := mixedFlush(24)
	first, _, err := Build(id, chunks)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		again, _, err := Build(id, chunks)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, again) {
			t.Fatal("Build gave different bytes for the same input")
		}
	}
	// One chunk at a time (under parallelMin) must lay out the same chunk
	// bytes as the parallel path.
	for i, c := range chunks[:3] {
		alone, infos, err := Build(id, []ChunkInput{c})
		if err != nil {
			t.Fatal(err)
		}
		_, all, _ := Parse(first)
		if got, want := alone[infos[0].Pos:infos[0].Pos+infos[0].Len], first[all[i].Pos:all[i].Pos+all[i].Len]; !bytes.Equal(got, want) {
			t.Errorf("chunk %d: stored bytes depend on the other chunks", i)
		}
	}
}

func TestBuildRejects(t *testing.T) {
	ok := ChunkInput{Topic: "t", Partition: 0, Data: []byte("x")}
	with := func(f func(*ChunkInput)) []ChunkInput {
		c := ok
		f(&c)
		return []ChunkInput{c}
	}
	for _, tc := range []struct {
		name   string
		chunks []ChunkInput
		want   string
	}{
		{"no chunks", nil, "no chunks"},
		{"empty data", with(func(c *ChunkInput) { c.Data = nil }), "empty data"},
		{"empty data, compressed", with(func(c *ChunkInput) { c.Data, c.Compress = []byte{}, true }), "empty data"},
		{"empty topic", with(func(c *ChunkInput) { c.Topic = "" }), "topic of 0 bytes"},
		{"topic too long", with(func(c *ChunkInput) { c.Topic = strings.Repeat("a", MaxTopicLen+1) }), "topic of 65536 bytes"},
		{"topic not UTF-8", with(func(c *ChunkInput) { c.Topic = "a\xffb" }), "not UTF-8"},
		{"negative partition", with(func(c *ChunkInput) { c.Partition = -1 }), "negative partition"},
		{"negative batches", with(func(c *ChunkInput) { c.Batches = -1 }), "negative count"},
		{"negative records", with(func(c *ChunkInput) { c.Records = -1 }), "negative count"},
		{"same partition twice", []ChunkInput{ok, ok}, "same topic and partition as chunk 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, infos, err := Build(NewID(), tc.chunks)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Build error = %v, want one containing %q", err, tc.want)
			}
			if errors.Is(err, ErrCorrupt) {
				t.Errorf("Build error %v wraps ErrCorrupt; bad input is not bad bytes", err)
			}
			if data != nil || infos != nil {
				t.Error("Build returned output with its error")
			}
		})
	}
}

// Data over MaxChunkSize is rejected before any work; the slice is never
// read, so the test can fake its length cheaply.
func TestBuildRejectsOversizedChunk(t *testing.T) {
	big := make([]byte, MaxChunkSize+1)
	_, _, err := Build(NewID(), []ChunkInput{{Topic: "t", Data: big, Compress: true}})
	if err == nil || !strings.Contains(err.Error(), "more than MaxChunkSize") {
		t.Fatalf("Build error = %v, want MaxChunkSize", err)
	}
}

// A ranged reader may read a generous tail: ParseTrailer reads only its
// last TrailerSize bytes, and the footer is then a suffix of that tail.
func TestParseTrailerAcceptsLongerTail(t *testing.T) {
	data, infos := roundTrip(t, mixedFlush(5))
	size := int64(len(data))
	tail := data[size-4096:]
	footerPos, footerLen, err := ParseTrailer(tail, size)
	if err != nil {
		t.Fatal(err)
	}
	if footerLen > int64(len(tail)) {
		t.Fatalf("footer of %d bytes is not in a 4 KiB tail", footerLen)
	}
	_, got, err := ParseFooter(tail[int64(len(tail))-footerLen:], size)
	if err != nil || !reflect.DeepEqual(got, infos) {
		t.Fatalf("ParseFooter = %+v, %v", got, err)
	}
	if want := infos[len(infos)-1].Pos + infos[len(infos)-1].Len; footerPos != want {
		t.Errorf("footerPos = %d, want %d (right after the last chunk)", footerPos, want)
	}
}

// Build and DecodeChunk share one zstd encoder and decoder; concurrent
// callers (every flush, every fetch) must not disturb each other.
func TestConcurrentUse(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 5 {
				text, _, _ := batches(uint64(g*10+i), 40<<10)
				chunks := []ChunkInput{
					{Topic: "a", Partition: int32(g), Data: text, Compress: true},
					{Topic: "b", Partition: int32(i), Data: text[:len(text)/2], Compress: true},
				}
				data, infos, err := Build(NewID(), chunks)
				if err != nil {
					t.Error(err)
					return
				}
				for j, info := range infos {
					raw, err := DecodeChunk(info, data[info.Pos:info.Pos+info.Len])
					if err != nil || !bytes.Equal(raw, chunks[j].Data) {
						t.Errorf("goroutine %d: chunk %d does not round-trip: %v", g, j, err)
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestCodecString(t *testing.T) {
	for c, want := range map[Codec]string{CodecNone: "none", CodecZstd: "zstd", 9: "codec(9)"} {
		if got := c.String(); got != want {
			t.Errorf("Codec(%d).String() = %q, want %q", uint8(c), got, want)
		}
	}
}

// BuildParts writes Build's bytes, parted where a journal entry copies them:
// the same object for the same id and inputs, with the golden file's bytes
// for its chunks, and raw chunks passed through without a copy.
func TestBuildPartsIsBuild(t *testing.T) {
	for _, tc := range []struct {
		name   string
		id     ID
		chunks []ChunkInput
	}{
		{"golden", goldenID, goldenChunks()},
		{"mixed flush", NewID(), mixedFlush(24)},
		{"one raw chunk", NewID(), []ChunkInput{{Topic: "t", Data: []byte("batches"), Batches: 1, Records: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, wantInfos, err := Build(tc.id, tc.chunks)
			if err != nil {
				t.Fatal(err)
			}
			parts, size, infos, err := BuildParts(tc.id, tc.chunks)
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.Join(parts, nil); !bytes.Equal(got, want) || size != len(want) {
				t.Fatalf("BuildParts wrote %d bytes (said %d), Build %d; equal: %v", len(got), size, len(want), bytes.Equal(got, want))
			}
			if !reflect.DeepEqual(infos, wantInfos) {
				t.Fatalf("BuildParts infos %+v\nBuild infos %+v", infos, wantInfos)
			}
			for i, info := range infos {
				if stored := parts[1+i]; info.Codec == CodecNone && &stored[0] != &tc.chunks[i].Data[0] {
					t.Errorf("chunk %d is stored raw but its part is a copy of its input", i)
				}
			}
		})
	}
	if _, _, _, err := BuildParts(NewID(), nil); err == nil {
		t.Error("BuildParts of no chunks: no error")
	}
}
