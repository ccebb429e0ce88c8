package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// EntryVersion is the entry format this code writes and the newest it can
// apply. An agent that meets a newer entry stops applying (and reports not
// ready) rather than guess at its meaning.
const EntryVersion = 1

// Key prefixes of journal objects under the cluster prefix.
const (
	entryPrefix    = "journal/"
	snapshotPrefix = "snapshots/"
)

// Entry is one journal object: commands proposed by one writer, decided by
// winning the put-if-absent on the entry's key.
//
// An entry is stored as its JSON, or, when it carries inline segments
// (CommitSegment.Inline), as a framed object:
//
//	"SJE2"  4 bytes
//	n       4 bytes, big-endian: the length of the JSON
//	JSON    n bytes
//	data    the inline segments, back to back
//
// Readers of the journal read only the frame and the JSON; fetches read the
// segments' chunks with ranged GETs, as from any segment object.
type Entry struct {
	Version int    `json:"v"`
	Seq     uint64 `json:"seq"`
	// Writer and Nonce identify the attempt that wrote the entry, so a
	// writer whose put had an ambiguous outcome can recognise its own entry.
	Writer string `json:"writer"`
	Nonce  string `json:"nonce"`
	// Time is the writer's clock (unix ms) when it proposed the entry.
	Time     int64     `json:"time"`
	Commands []Command `json:"cmds"`
	// DataOffset is where the data begins in the entry's object; 0 if it
	// carries none. It follows from the framing, so it is not encoded.
	DataOffset int64 `json:"-"`
}

// entryMagic opens a framed entry; a plain JSON entry opens with '{'.
const entryMagic = "SJE2"

// entryFrame is the length of the magic and the JSON length.
const entryFrame = 8

// EntryKey returns the object key of entry seq.
func EntryKey(seq uint64) string { return fmt.Sprintf("%s%020d", entryPrefix, seq) }

// IsEntryKey reports whether key is a journal entry's.
func IsEntryKey(key string) bool {
	_, ok := parseSeqKey(key, entryPrefix)
	return ok
}

// SnapshotKey returns the object key of the snapshot as of entry seq.
func SnapshotKey(seq uint64) string { return fmt.Sprintf("%s%020d", snapshotPrefix, seq) }

// parseSeqKey returns the number in an entry or snapshot key.
func parseSeqKey(key, prefix string) (uint64, bool) {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok || len(rest) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	return n, err == nil
}

// Encode returns the entry's bytes, without data.
func (e *Entry) Encode() ([]byte, error) {
	return json.Marshal(e)
}

// encodeObject returns the object to store for the entry with its inline
// data (laid out as inlineData says), and its head: the part journal
// readers need (the object itself when there is no data). It sets
// DataOffset. The data is copied once, into the object: an inline segment
// is up to InlineSegmentBytes, and every produced byte passes here.
func (e *Entry) encodeObject(data inline) (object, head []byte, err error) {
	js, err := json.Marshal(e)
	if err != nil {
		return nil, nil, err
	}
	if data.size == 0 {
		e.DataOffset = 0
		return js, js, nil
	}
	if len(js) > math.MaxUint32 {
		return nil, nil, fmt.Errorf("entry %d: commands too large", e.Seq)
	}
	object = make([]byte, 0, entryFrame+len(js)+data.size)
	object = append(object, entryMagic...)
	object = binary.BigEndian.AppendUint32(object, uint32(len(js)))
	object = append(object, js...)
	head = object[:len(object):len(object)]
	for _, p := range data.parts {
		object = append(object, p...)
	}
	e.DataOffset = int64(entryFrame + len(js))
	return object, head, nil
}

// DecodeEntry parses an entry read from key seq: its JSON, or a framed
// entry's head (data after it is ignored). Entries come from the bucket, so
// everything is checked; a bad entry is an error, not a panic.
func DecodeEntry(seq uint64, data []byte) (*Entry, error) {
	var e Entry
	if bytes.HasPrefix(data, []byte(entryMagic)) {
		if len(data) < entryFrame {
			return nil, fmt.Errorf("journal entry %d: truncated frame", seq)
		}
		n := int64(binary.BigEndian.Uint32(data[4:entryFrame]))
		if int64(len(data)) < entryFrame+n {
			return nil, fmt.Errorf("journal entry %d: frame says %d bytes of commands, %d present", seq, n, len(data)-entryFrame)
		}
		data = data[entryFrame : entryFrame+n]
		e.DataOffset = entryFrame + n
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("journal entry %d: %w", seq, err)
	}
	if e.Version < 1 {
		return nil, fmt.Errorf("journal entry %d: no format version", seq)
	}
	if e.Seq != seq {
		return nil, fmt.Errorf("journal entry %d: says it is entry %d", seq, e.Seq)
	}
	return &e, nil
}
