package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
)

// A disk file holds one entry:
//
//	offset  size  field
//	0       4     magic "SLC1"
//	4       4     CRC-32C (Castagnoli) of every byte from offset 8 to the end
//	8       4     key length, little endian
//	12      8     value length, little endian
//	20      k     key
//	20+k    v     value
//
// The key is stored so a file can never be served for another key, and the
// lengths so a truncated file is recognised before its checksum is computed.
const (
	filePrefix = "silt-cache-" // every file and temporary file the cache creates
	fileMagic  = "SLC1"
	headerSize = 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt is wrapped by every decoding failure: a file that was torn,
// truncated or altered, which the cache treats as a miss.
var errCorrupt = errors.New("cache: corrupt disk file")

// fileSize returns the size of the file holding key and value.
func fileSize(key string, value []byte) int64 {
	return headerSize + int64(len(key)) + int64(len(value))
}

// encodeHeader returns the header and key of the file for key and value;
// the value follows them unchanged.
func encodeHeader(key string, value []byte) []byte {
	b := make([]byte, headerSize+len(key))
	copy(b, fileMagic)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(key)))
	binary.LittleEndian.PutUint64(b[12:], uint64(len(value)))
	copy(b[headerSize:], key)
	crc := crc32.Update(crc32.Checksum(b[8:], castagnoli), castagnoli, value)
	binary.LittleEndian.PutUint32(b[4:], crc)
	return b
}

// decodeFile checks that b is a whole, intact file for key and returns the
// value, which aliases b.
func decodeFile(b []byte, key string) ([]byte, error) {
	if len(b) < headerSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than a header", errCorrupt, len(b))
	}
	if string(b[:4]) != fileMagic {
		return nil, fmt.Errorf("%w: bad magic %q", errCorrupt, b[:4])
	}
	kl := uint64(binary.LittleEndian.Uint32(b[8:]))
	vl := binary.LittleEndian.Uint64(b[12:])
	if rest := uint64(len(b) - headerSize); kl > rest || vl != rest-kl {
		return nil, fmt.Errorf("%w: lengths %d+%d do not match %d bytes", errCorrupt, kl, vl, rest)
	}
	if crc32.Checksum(b[8:], castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	if string(b[headerSize:headerSize+kl]) != key {
		return nil, fmt.Errorf("%w: holds key %q, not %q", errCorrupt, b[headerSize:headerSize+kl], key)
	}
	return b[headerSize+kl:], nil
}

// writeFile writes the file for key and value at path, through a temporary
// file and a rename so that path never names a partial file. There is no
// fsync: the disk tier does not outlive the process (see openDisk), and a
// file torn by a crash is caught by its checksum anyway.
func writeFile(path, key string, value []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	_, err = f.Write(encodeHeader(key, value))
	if err == nil {
		_, err = f.Write(value)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("cache: writing %s: %w", path, err)
	}
	return nil
}

// readFile returns the value stored for key at path.
func readFile(path, key string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return decodeFile(b, key)
}
