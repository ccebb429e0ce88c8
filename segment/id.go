package segment

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Dir is the key prefix, under the cluster prefix, of every segment object;
// list it to find segments for garbage collection.
const Dir = "segments/"

const (
	idLen     = 16
	idTimeLen = 6 // big-endian unix milliseconds, good until the year 10889

	// keySuffix ends every segment key.
	keySuffix = ".seg"
	// keyLen is the length of every key Key returns.
	keyLen = len(Dir) + len("xx/") + 2*idLen + len(keySuffix)
)

// ID names a segment: 16 bytes rendered as 32 lowercase hex digits. The
// first 6 bytes are the big-endian unix-millisecond time of creation, so ids
// (and their strings) sort by creation time to the millisecond and a garbage
// collector can tell a segment's age from its name; the other 10 bytes are
// random, so agents never coordinate to name a segment and a retried PUT
// reuses its own name.
type ID [idLen]byte

// ErrInvalidID is wrapped by ParseID and ParseKey errors: the string is not
// one that ID.String or Key produces.
var ErrInvalidID = errors.New("invalid segment id")

// NewID returns a fresh id stamped with the current time. Its random part
// comes from crypto/rand, which never fails (it aborts the program instead).
func NewID() ID {
	var random [idLen - idTimeLen]byte
	rand.Read(random[:])
	return newIDAt(time.Now(), random)
}

// newIDAt is NewID with the clock and the random bytes injected, for tests.
func newIDAt(t time.Time, random [idLen - idTimeLen]byte) ID {
	var id ID
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(t.UnixMilli()))
	copy(id[:idTimeLen], ms[8-idTimeLen:])
	copy(id[idTimeLen:], random[:])
	return id
}

// Time returns the creation time recorded in the id, to the millisecond.
// Garbage collection uses it to leave young unreferenced segments alone
// (their commit may still be in flight).
func (id ID) Time() time.Time {
	var ms [8]byte
	copy(ms[8-idTimeLen:], id[:idTimeLen])
	return time.UnixMilli(int64(binary.BigEndian.Uint64(ms[:])))
}

// String renders the id as 32 lowercase hex digits, the form used in keys,
// logs and the journal.
func (id ID) String() string {
	return hex.EncodeToString(id[:])
}

// ParseID parses the 32 lowercase hex digits String returns. Uppercase is
// rejected so that every id has exactly one spelling, and so one key.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*idLen {
		return id, fmt.Errorf("%w %q: %d characters, want %d", ErrInvalidID, s, len(s), 2*idLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return id, fmt.Errorf("%w %q: character %d is not a lowercase hex digit", ErrInvalidID, s, i)
		}
	}
	hex.Decode(id[:], []byte(s)) // cannot fail: checked above
	return id, nil
}

// shard is the first directory level of a segment's key: the first byte of
// SHA-256 of the whole id, in hex. Hashing the id rather than using its time
// prefix spreads concurrent writes over 256 prefixes, which S3 partitions
// independently; SHA-256 keeps the rule easy to reproduce in any language.
func (id ID) shard() string {
	sum := sha256.Sum256(id[:])
	return hex.EncodeToString(sum[:1])
}

// Key is the object key of a segment under the cluster prefix:
// "segments/<shard>/<id>.seg", where shard is the first byte of SHA-256 of
// the 16 id bytes as 2 hex digits. The hashed first level spreads S3 load.
func Key(id ID) string {
	return Dir + id.shard() + "/" + id.String() + keySuffix
}

// ParseKey is the inverse of Key, for listing and garbage collection. It
// rejects any key Key would not produce, including a right id under the
// wrong shard, so a stray object is never mistaken for a segment.
func ParseKey(key string) (ID, error) {
	if len(key) != keyLen || !strings.HasPrefix(key, Dir) || !strings.HasSuffix(key, keySuffix) || key[len(Dir)+2] != '/' {
		return ID{}, fmt.Errorf("%w: key %q is not segments/<shard>/<id>.seg", ErrInvalidID, key)
	}
	id, err := ParseID(key[len(Dir)+3 : len(key)-len(keySuffix)])
	if err != nil {
		return ID{}, fmt.Errorf("key %q: %w", key, err)
	}
	if got, want := key[len(Dir):len(Dir)+2], id.shard(); got != want {
		return ID{}, fmt.Errorf("%w: key %q has shard %q, want %q", ErrInvalidID, key, got, want)
	}
	return id, nil
}
