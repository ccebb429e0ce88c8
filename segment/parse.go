package segment

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Parse reads the index of a whole segment object. It verifies the header
// and trailer magic and version, the index CRC, that the header and the
// index name the same segment, and every rule of the index (chunks tile the
// object between header and footer, valid lengths and codecs, no duplicate
// partitions). It does not read the chunks: DecodeChunk checks each one.
//
// The returned infos are in object order; their Topic strings do not alias
// data.
func Parse(data []byte) (ID, []ChunkInfo, error) {
	size := int64(len(data))
	if len(data) < HeaderSize {
		return ID{}, nil, corrupt("segment: object of %d bytes is shorter than the %d-byte header", size, HeaderSize)
	}
	if err := checkMagic(data[:len(magic)+1]); err != nil {
		return ID{}, nil, fmt.Errorf("segment: header: %w", err)
	}
	footerPos, _, err := ParseTrailer(data, size)
	if err != nil {
		return ID{}, nil, err
	}
	id, infos, err := ParseFooter(data[footerPos:], size)
	if err != nil {
		return ID{}, nil, err
	}
	if hid := ID(data[len(magic)+1 : HeaderSize]); hid != id {
		return ID{}, nil, corrupt("segment %s: header names segment %s", id, hid)
	}
	return id, infos, nil
}

// Verify parses a whole segment object and decodes every chunk, so that
// every byte of it is checked, for whatever must vouch for a whole object
// (the tests of this package use it on every segment they build); the fetch
// path and the compactor decode only the chunks they read (chunkread).
func Verify(data []byte) (ID, []ChunkInfo, error) {
	id, infos, err := Parse(data)
	if err != nil {
		return ID{}, nil, err
	}
	for i, info := range infos {
		if _, err := DecodeChunk(info, data[info.Pos:info.Pos+info.Len]); err != nil {
			return ID{}, nil, fmt.Errorf("segment %s: chunk %d: %w", id, i, err)
		}
	}
	return id, infos, nil
}

// ParseTrailer returns the footer's position and length from the last
// TrailerSize bytes of tail, which must end at the end of an object of
// objectSize bytes (a longer tail is fine: only its last TrailerSize bytes
// are read). The footer is the index and the trailer; read footerLen bytes
// at footerPos and pass them to ParseFooter.
//
// footerLen is at most objectSize, so a caller may allocate it.
func ParseTrailer(tail []byte, objectSize int64) (footerPos, footerLen int64, err error) {
	if len(tail) < TrailerSize {
		return 0, 0, corrupt("segment: trailer: %d bytes, want %d", len(tail), TrailerSize)
	}
	if objectSize < int64(len(tail)) {
		return 0, 0, corrupt("segment: trailer: tail of %d bytes is longer than the %d-byte object", len(tail), objectSize)
	}
	t := tail[len(tail)-TrailerSize:]
	if err := checkMagic(t[8:]); err != nil {
		return 0, 0, fmt.Errorf("segment: trailer: %w", err)
	}
	indexLen := int64(binary.BigEndian.Uint32(t[0:4]))
	if indexLen < indexHeaderSize+minEntrySize {
		return 0, 0, corrupt("segment: trailer: index of %d bytes cannot hold one chunk", indexLen)
	}
	footerLen = indexLen + TrailerSize
	// At least the header and one byte of chunk precede the footer.
	if footerLen > objectSize-HeaderSize-1 {
		return 0, 0, corrupt("segment: trailer: footer of %d bytes does not fit in a %d-byte object", footerLen, objectSize)
	}
	return objectSize - footerLen, footerLen, nil
}

// ParseFooter decodes a footer read on its own, for ranged reads of big
// objects: exactly the footerLen bytes at footerPos that ParseTrailer
// reported for an object of objectSize bytes. It verifies the trailer, the
// index CRC and every rule of the index, as Parse does, but cannot check the
// header, which it does not see.
func ParseFooter(footer []byte, objectSize int64) (ID, []ChunkInfo, error) {
	footerPos, footerLen, err := ParseTrailer(footer, objectSize)
	if err != nil {
		return ID{}, nil, err
	}
	if footerLen != int64(len(footer)) {
		return ID{}, nil, corrupt("segment: footer: %d bytes, but the trailer says %d", len(footer), footerLen)
	}
	index := footer[:len(footer)-TrailerSize]
	want := binary.BigEndian.Uint32(footer[len(index)+4:])
	if got := checksum(index); got != want {
		return ID{}, nil, corrupt("segment: footer: index CRC %08x, trailer says %08x", got, want)
	}
	return decodeIndex(index, footerPos)
}

// checkMagic checks the 8 bytes "SILTSEG" + version that open the header
// and close the trailer.
func checkMagic(b []byte) error {
	if string(b[:len(magic)]) != magic {
		return corrupt("magic %q, want %q", b[:len(magic)], magic)
	}
	if v := b[len(magic)]; v != Version {
		return fmt.Errorf("version %d, this reader knows %d: %w: %w", v, Version, ErrUnknownVersion, ErrCorrupt)
	}
	return nil
}

// decodeIndex decodes an index whose CRC has been checked, for an object
// whose footer starts at footerPos. A matching CRC says the bytes are the
// ones written, not that the writer was sound, so every field is still
// checked.
func decodeIndex(index []byte, footerPos int64) (ID, []ChunkInfo, error) {
	if len(index) < indexHeaderSize {
		return ID{}, nil, corrupt("segment: footer: index of %d bytes", len(index))
	}
	id := ID(index[:idLen])
	n := binary.BigEndian.Uint32(index[idLen:])
	rest := index[indexHeaderSize:]
	// Bound the count by the bytes before allocating for it.
	if n == 0 || uint64(n) > uint64(len(rest)/minEntrySize) {
		return id, nil, corrupt("segment %s footer: count %d, but %d bytes of entries hold 1…%d", id, n, len(rest), len(rest)/minEntrySize)
	}

	type tp struct {
		topic     string
		partition int32
	}
	infos := make([]ChunkInfo, n)
	seen := make(map[tp]int, n)
	next := int64(HeaderSize) // where the next chunk must start
	prevTopic := ""
	for i := range infos {
		bad := func(format string, args ...any) error {
			return corrupt("segment %s footer: chunk %d: %s", id, i, fmt.Sprintf(format, args...))
		}
		if len(rest) < 2 {
			return id, nil, bad("entry truncated at %d bytes", len(rest))
		}
		t := int(binary.BigEndian.Uint16(rest))
		if t == 0 || len(rest) < entryFixedSize+t {
			return id, nil, bad("topic of %d bytes in an entry of at most %d", t, len(rest))
		}
		topicBytes := rest[2 : 2+t]
		if !utf8.Valid(topicBytes) {
			return id, nil, bad("topic %q is not UTF-8", topicBytes)
		}
		topic := prevTopic // chunks of one topic are usually adjacent: share the string
		if string(topicBytes) != prevTopic {
			topic = string(topicBytes)
			prevTopic = topic
		}
		f := rest[2+t : entryFixedSize+t]
		rest = rest[entryFixedSize+t:]

		pos, length, rawLen := binary.BigEndian.Uint64(f[4:]), binary.BigEndian.Uint64(f[12:]), binary.BigEndian.Uint64(f[20:])
		// Compare as uint64 first, so no value wraps when converted.
		if pos != uint64(next) {
			return id, nil, bad("at offset %d, want %d (chunks are back to back)", pos, next)
		}
		if length > uint64(footerPos-next) {
			return id, nil, bad("%d bytes at offset %d overrun the footer at %d", length, pos, footerPos)
		}
		if rawLen > MaxChunkSize {
			return id, nil, bad("raw length %d over MaxChunkSize", rawLen)
		}
		info := ChunkInfo{
			Topic:     topic,
			Partition: int32(binary.BigEndian.Uint32(f[0:])),
			Pos:       next,
			Len:       int64(length),
			RawLen:    int64(rawLen),
			Codec:     Codec(f[28]),
			CRC:       binary.BigEndian.Uint32(f[29:]),
			Batches:   int32(binary.BigEndian.Uint32(f[33:])),
			Records:   int64(binary.BigEndian.Uint64(f[37:])),
		}
		if err := checkInfo(&info); err != nil {
			return id, nil, bad("%q/%d: %v", info.Topic, info.Partition, err)
		}
		key := tp{info.Topic, info.Partition}
		if j, dup := seen[key]; dup {
			return id, nil, bad("%q/%d again (chunk %d)", info.Topic, info.Partition, j)
		}
		seen[key] = i
		infos[i] = info
		next += info.Len
	}
	if len(rest) != 0 {
		return id, nil, corrupt("segment %s footer: %d bytes after the last entry", id, len(rest))
	}
	if next != footerPos {
		return id, nil, corrupt("segment %s footer: chunks end at %d, footer starts at %d", id, next, footerPos)
	}
	return id, infos, nil
}
