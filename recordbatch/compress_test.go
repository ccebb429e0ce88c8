package recordbatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

var allCodecs = []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestCompressRoundTrip(t *testing.T) {
	inputs := map[string][]byte{
		"empty":    {},
		"one byte": {42},
		"text":     []byte(strings.Repeat("a record batch, back to back; ", 5000)),
		"random":   randomBytes(100 << 10),
	}
	for _, codec := range allCodecs {
		for name, in := range inputs {
			t.Run(codec.String()+"/"+name, func(t *testing.T) {
				c, err := Compress(codec, in)
				if err != nil {
					t.Fatal(err)
				}
				out, err := Decompress(codec, c, len(in))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out, in) {
					t.Fatalf("round trip changed %d bytes into %d", len(in), len(out))
				}
				if len(in) > 0 {
					if _, err := Decompress(codec, c, len(in)-1); !errors.Is(err, ErrLimit) || !errors.Is(err, ErrCorrupt) {
						t.Errorf("one byte under the limit: err = %v, want ErrLimit and ErrCorrupt", err)
					}
				}
			})
		}
	}
}

// Compress writes the xerial framing, in 32 KiB blocks, as the Java client
// does.
func TestCompressSnappyIsXerial(t *testing.T) {
	c, err := Compress(CodecSnappy, []byte(strings.Repeat("x", 100<<10)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(c, xerialMagic) {
		t.Fatalf("snappy output starts %q, want the xerial header", c[:8])
	}
	blocks := 0
	for rem := c[xerialHeaderLen:]; len(rem) > 0; blocks++ {
		_, rest, err := xerialChunk(rem)
		if err != nil {
			t.Fatal(err)
		}
		rem = rest
	}
	if blocks != 4 {
		t.Errorf("%d xerial blocks for 100 KiB, want 4", blocks)
	}
}

func xerialFrame(blocks ...[]byte) []byte {
	out := append([]byte(nil), xerialMagic...)
	out = binary.BigEndian.AppendUint32(out, 1)
	out = binary.BigEndian.AppendUint32(out, 1)
	for _, b := range blocks {
		out = binary.BigEndian.AppendUint32(out, uint32(len(b)))
		out = append(out, b...)
	}
	return out
}

func TestDecompressSnappyFormats(t *testing.T) {
	hello, world := s2.EncodeSnappy(nil, []byte("hello, ")), s2.EncodeSnappy(nil, []byte("world"))
	for _, tc := range []struct {
		name string
		in   []byte
		want string
		err  error
	}{
		{"raw block", hello, "hello, ", nil},
		{"xerial, two blocks", xerialFrame(hello, world), "hello, world", nil},
		{"xerial, header only", xerialFrame(), "", nil},
		{"xerial, partial length", append(xerialFrame(hello), 0, 0), "", ErrCorrupt},
		{"xerial, block past the end", xerialFrame(hello)[:xerialHeaderLen+4+len(hello)-1], "", ErrCorrupt},
		{"xerial, empty block", xerialFrame(hello, nil), "", ErrCorrupt},
		{"xerial, garbage block", xerialFrame([]byte{0x05, 0xff, 0xff}), "", ErrCorrupt},
		{"xerial, huge length", append(xerialFrame(), 0xff, 0xff, 0xff, 0xff, 1, 2, 3), "", ErrCorrupt},
		{"raw, garbage", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "", ErrCorrupt},
		{"raw, empty", nil, "", ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Decompress(CodecSnappy, tc.in, 1<<20)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if string(out) != tc.want {
				t.Errorf("got %q, want %q", out, tc.want)
			}
		})
	}
}

// bomb returns a small input that decompresses to n zero bytes.
func bomb(t *testing.T, codec Codec, n int) []byte {
	zeros := make([]byte, n)
	var buf bytes.Buffer
	switch codec {
	case CodecGzip:
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		w.Write(zeros)
		w.Close()
	case CodecLZ4:
		w := lz4.NewWriter(&buf)
		w.Write(zeros)
		w.Close()
	case CodecZstd:
		// A stream without a content size, so the decoder cannot
		// reject it from the frame header.
		w, _ := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithWindowSize(1<<20))
		w.Write(zeros)
		w.Close()
	case CodecSnappy:
		var blocks [][]byte
		for range n / (32 << 10) {
			blocks = append(blocks, s2.EncodeSnappy(nil, zeros[:32<<10]))
		}
		return xerialFrame(blocks...)
	default:
		t.Fatalf("no bomb for %v", codec)
	}
	return buf.Bytes()
}

// A decompression bomb fails at the limit, and decoding it allocates about
// the limit, not the bomb's decompressed size.
func TestDecompressBomb(t *testing.T) {
	const size, limit = 32 << 20, 1 << 20
	for _, codec := range allCodecs[1:] {
		t.Run(codec.String(), func(t *testing.T) {
			in := bomb(t, codec, size)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := Decompress(codec, in, limit)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrLimit) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrLimit", err)
			}
			// The output stops at the limit; the codecs' own buffers
			// add up to a 4 MiB LZ4 block (twice under -race, where
			// sync.Pool drops entries) or a zstd window of up to the
			// allowance.
			budget := uint64(4*limit + 8<<20)
			if codec == CodecZstd {
				budget += 2 * zstdWindowAllowance
			}
			got := after.TotalAlloc - before.TotalAlloc
			if got > budget {
				t.Errorf("allocated %d MiB for a %d MiB limit", got>>20, limit>>20)
			}
			t.Logf("%d byte bomb of %d MiB: allocated %.1f MiB", len(in), size>>20, float64(got)/(1<<20))
		})
	}
}

// Bombs that declare their size up front are refused before decoding.
func TestDecompressDeclaredSize(t *testing.T) {
	t.Run("raw snappy", func(t *testing.T) {
		in := binary.AppendUvarint(nil, 1<<32-1) // a 4 GiB block, no data
		if _, err := Decompress(CodecSnappy, in, 1<<20); !errors.Is(err, ErrLimit) {
			t.Errorf("err = %v, want ErrLimit", err)
		}
	})
	t.Run("xerial snappy", func(t *testing.T) {
		block := binary.AppendUvarint(nil, 1<<32-1)
		if _, err := Decompress(CodecSnappy, xerialFrame(block, block), 1<<20); !errors.Is(err, ErrLimit) {
			t.Errorf("err = %v, want ErrLimit", err)
		}
	})
	t.Run("zstd content size", func(t *testing.T) {
		enc, _ := zstd.NewWriter(nil)
		in := enc.EncodeAll(make([]byte, 2<<20), nil) // declares 2 MiB
		if _, err := Decompress(CodecZstd, in, 1<<20); !errors.Is(err, ErrLimit) {
			t.Errorf("err = %v, want ErrLimit", err)
		}
	})
}

func TestDecompressErrors(t *testing.T) {
	garbage := []byte("this is not compressed data at all, not in any codec")
	for _, codec := range allCodecs[1:] {
		for name, in := range map[string][]byte{"nil": nil, "garbage": garbage} {
			if _, err := Decompress(codec, in, 1<<20); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%v %s: err = %v, want ErrCorrupt", codec, name, err)
			}
		}
		good, _ := Compress(codec, garbage)
		if _, err := Decompress(codec, good[:len(good)-1], 1<<20); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%v truncated: err = %v, want ErrCorrupt", codec, err)
		}
	}
	for _, codec := range []Codec{5, 6, 7, -1} {
		if _, err := Decompress(codec, garbage, 1<<20); !errors.Is(err, ErrUnsupportedCodec) {
			t.Errorf("codec %d: err = %v", codec, err)
		}
		if _, err := Compress(codec, garbage); !errors.Is(err, ErrUnsupportedCodec) {
			t.Errorf("codec %d: err = %v", codec, err)
		}
	}
	if _, err := Decompress(CodecNone, garbage, -5); !errors.Is(err, ErrLimit) {
		t.Errorf("negative limit: err = %v, want ErrLimit", err)
	}
}

// A streaming zstd encoder declares its whole window even for a few bytes,
// as the Java producer's does (2 MiB at level 3, 8 MiB at level 19): a
// limit smaller than the window must still decode such a frame.
func TestDecompressZstdWindowAboveLimit(t *testing.T) {
	var buf bytes.Buffer
	w, _ := zstd.NewWriter(&buf, zstd.WithSingleSegment(false))
	w.Write([]byte(strings.Repeat("small", 20)))
	w.Close()
	frame := buf.Bytes()
	// Byte 4 is the frame header descriptor: no single segment flag
	// means byte 5 is the window descriptor, 2^(10+exponent) bytes.
	if frame[4]&0x20 != 0 {
		t.Fatalf("frame descriptor %#x is single segment", frame[4])
	}
	for exp, window := range map[byte]uint64{11: 2 << 20, 13: 8 << 20} {
		frame[5] = exp << 3
		var h zstd.Header
		if err := h.Decode(frame); err != nil || h.WindowSize != window {
			t.Fatalf("patched frame has window %d (err %v), want %d", h.WindowSize, err, window)
		}
		out, err := Decompress(CodecZstd, frame, 1<<10)
		if err != nil || len(out) != 100 {
			t.Fatalf("window %d: got %d bytes, err %v", window, len(out), err)
		}
	}
	// Past the allowance and the limit, the window itself is too much.
	frame[5] = 14 << 3
	if _, err := Decompress(CodecZstd, frame, 1<<10); !errors.Is(err, ErrLimit) {
		t.Errorf("16 MiB window: err = %v, want ErrLimit", err)
	}
	if out, err := Decompress(CodecZstd, frame, 16<<20); err != nil || len(out) != 100 {
		t.Errorf("16 MiB window, 16 MiB limit: got %d bytes, err %v", len(out), err)
	}
}

// The Java client reads concatenated gzip members as one stream; so do we.
func TestDecompressGzipMembers(t *testing.T) {
	a, _ := Compress(CodecGzip, []byte("first member, "))
	b, _ := Compress(CodecGzip, []byte("second member"))
	out, err := Decompress(CodecGzip, append(a, b...), 1<<10)
	if err != nil || string(out) != "first member, second member" {
		t.Errorf("got %q, %v", out, err)
	}
}

// The codecs' pools are shared: many goroutines compress and decompress at
// once (run with -race).
func TestCodecsConcurrent(t *testing.T) {
	in := []byte(strings.Repeat("concurrent fetches and compactions; ", 2000))
	done := make(chan error)
	for g := range 8 {
		go func() {
			var err error
			for i := range 20 {
				codec := allCodecs[(g+i)%len(allCodecs)]
				var c, out []byte
				if c, err = Compress(codec, in); err != nil {
					break
				}
				if out, err = Decompress(codec, c, len(in)); err != nil {
					break
				}
				if !bytes.Equal(out, in) {
					err = errors.New(codec.String() + ": round trip changed the data")
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
