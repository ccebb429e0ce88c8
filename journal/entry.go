package journal

import (
	"encoding/json"
	"fmt"
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
}

// EntryKey returns the object key of entry seq.
func EntryKey(seq uint64) string { return fmt.Sprintf("%s%020d", entryPrefix, seq) }

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

// Encode returns the entry's bytes.
func (e *Entry) Encode() ([]byte, error) {
	return json.Marshal(e)
}

// DecodeEntry parses an entry read from key seq. Entries come from the
// bucket, so everything is checked; a bad entry is an error, not a panic.
func DecodeEntry(seq uint64, data []byte) (*Entry, error) {
	var e Entry
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
