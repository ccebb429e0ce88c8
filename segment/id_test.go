package segment

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestIDStringRoundTrip(t *testing.T) {
	for range 100 {
		id := NewID()
		s := id.String()
		if len(s) != 32 || strings.ToLower(s) != s {
			t.Fatalf("String() = %q, want 32 lowercase hex digits", s)
		}
		got, err := ParseID(s)
		if err != nil || got != id {
			t.Fatalf("ParseID(%q) = %v, %v; want %v", s, got, err, id)
		}
	}
}

func TestIDRecordsCreationTime(t *testing.T) {
	at := time.Date(2024, 6, 1, 12, 30, 45, 678_901_234, time.UTC)
	id := newIDAt(at, [10]byte{1, 2, 3})
	if got, want := id.Time(), at.Truncate(time.Millisecond); !got.Equal(want) {
		t.Errorf("Time() = %v, want %v", got, want)
	}
	before := time.Now().Truncate(time.Millisecond)
	if got := NewID().Time(); got.Before(before) || got.After(time.Now()) {
		t.Errorf("NewID().Time() = %v, want about now", got)
	}
}

// Ids of different milliseconds sort by time whatever their random bytes,
// both as bytes and as strings (keys, logs).
func TestIDsSortByCreationTime(t *testing.T) {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []ID
	for ms := range 50 {
		var random [10]byte
		fill := byte(0xff - ms) // later ids get smaller random parts
		for i := range random {
			random[i] = fill
		}
		ids = append(ids, newIDAt(base.Add(time.Duration(ms)*time.Millisecond), random))
	}
	if !slices.IsSortedFunc(ids, func(a, b ID) int { return bytes.Compare(a[:], b[:]) }) {
		t.Error("ids of increasing times are not sorted as bytes")
	}
	if !slices.IsSortedFunc(ids, func(a, b ID) int { return strings.Compare(a.String(), b.String()) }) {
		t.Error("ids of increasing times are not sorted as strings")
	}

	a := NewID()
	time.Sleep(2 * time.Millisecond)
	if b := NewID(); a.String() >= b.String() {
		t.Errorf("NewID %s, then 2ms later %s: not increasing", a, b)
	}
}

func TestParseIDRejects(t *testing.T) {
	valid := NewID().String()
	for _, tc := range []struct{ name, s string }{
		{"empty", ""},
		{"short", valid[:31]},
		{"long", valid + "0"},
		{"uppercase", strings.ToUpper("0123456789abcdef0123456789abcdef")},
		{"not hex", "0123456789abcdef0123456789abcdeg"},
		{"space", " 123456789abcdef0123456789abcdef"},
		{"unicode", "0123456789abcdef0123456789abcdé"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseID(tc.s); !errors.Is(err, ErrInvalidID) {
				t.Errorf("ParseID(%q) error = %v, want ErrInvalidID", tc.s, err)
			}
		})
	}
}

func TestKeyRoundTrip(t *testing.T) {
	for range 1000 {
		id := NewID()
		key := Key(id)
		if !strings.HasPrefix(key, Dir) || !strings.HasSuffix(key, "/"+id.String()+".seg") {
			t.Fatalf("Key(%s) = %q, want segments/<shard>/<id>.seg", id, key)
		}
		got, err := ParseKey(key)
		if err != nil || got != id {
			t.Fatalf("ParseKey(%q) = %v, %v; want %v", key, got, err, id)
		}
	}
}

// The shard is pinned: it names objects already in buckets.
func TestKeyShardIsSHA256OfID(t *testing.T) {
	id, err := ParseID("018fd3a2b4c80123456789abcdef0123")
	if err != nil {
		t.Fatal(err)
	}
	// printf '\x01\x8f\xd3\xa2\xb4\xc8\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23' | sha256sum  # 50bd3b…
	if got, want := Key(id), "segments/50/018fd3a2b4c80123456789abcdef0123.seg"; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
}

// Ids made in the same millisecond share their time prefix, but their keys
// spread over the shards: the shard hashes the whole id.
func TestKeyShardsSpreadWithinOneMillisecond(t *testing.T) {
	at := time.Now()
	shards := map[string]bool{}
	for i := range 256 {
		id := newIDAt(at, [10]byte{9: byte(i)})
		shards[Key(id)[len(Dir):len(Dir)+2]] = true
	}
	if len(shards) < 128 {
		t.Errorf("256 ids of one millisecond use %d shards, want them spread", len(shards))
	}
}

func TestParseKeyRejects(t *testing.T) {
	id := NewID()
	key := Key(id)
	wrongShard := "00"
	if key[len(Dir):len(Dir)+2] == wrongShard {
		wrongShard = "01"
	}
	for _, tc := range []struct{ name, key string }{
		{"empty", ""},
		{"no shard", Dir + id.String() + ".seg"},
		{"wrong shard", Dir + wrongShard + "/" + id.String() + ".seg"},
		{"other dir", "segmentz/" + key[len(Dir):]},
		{"other suffix", strings.TrimSuffix(key, ".seg") + ".tmp"},
		{"uppercase id", Dir + key[len(Dir):len(Dir)+3] + strings.ToUpper(id.String()) + ".seg"},
		{"with cluster prefix", "prod/" + key},
		{"journal", "journal/00000000000000000001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseKey(tc.key); !errors.Is(err, ErrInvalidID) {
				t.Errorf("ParseKey(%q) error = %v, want ErrInvalidID", tc.key, err)
			}
		})
	}
}
