package cache

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
)

func TestFileRoundTrip(t *testing.T) {
	for _, tc := range []struct{ key, value string }{
		{"seg/0", "chunk"},
		{"", ""},
		{"k", ""},
		{"0123456789abcdef/17", string(bytes.Repeat([]byte{0xfe}, 1<<16))},
	} {
		path := filepath.Join(t.TempDir(), "f")
		if err := writeFile(path, tc.key, []byte(tc.value)); err != nil {
			t.Fatal(err)
		}
		got, err := readFile(path, tc.key)
		if err != nil || string(got) != tc.value {
			t.Errorf("round trip of %q: %d bytes, %v", tc.key, len(got), err)
		}
		if _, err := readFile(path, tc.key+"x"); !errors.Is(err, errCorrupt) {
			t.Errorf("reading %q's file as another key: %v; want errCorrupt", tc.key, err)
		}
	}
}

// FuzzDecodeFile checks that no file content makes decodeFile panic, and
// that whatever it accepts is exactly what encoding the key and value
// produces.
func FuzzDecodeFile(f *testing.F) {
	file := func(key, value string) []byte {
		return append(encodeHeader(key, []byte(value)), value...)
	}
	f.Add(file("seg/0", "chunk"), "seg/0")
	f.Add(file("", ""), "")
	f.Add(file("k", "v")[:10], "k")
	f.Add([]byte("SLC1\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"), "")
	f.Fuzz(func(t *testing.T, b []byte, key string) {
		v, err := decodeFile(b, key)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v does not wrap errCorrupt", err)
			}
			return
		}
		if want := file(key, string(v)); !bytes.Equal(b, want) {
			t.Fatalf("accepted %x for key %q, which encodes as %x", b, key, want)
		}
	})
}
