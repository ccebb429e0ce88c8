package commit

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestPushBodyRoundTrip(t *testing.T) {
	framed := append([]byte("SJE2\x00\x00\x00\x02{}"), "no JSON here"...) // a framed head is not JSON
	for _, tc := range []struct {
		name    string
		entries []Pushed
	}{
		{"none", nil},
		{"one JSON entry", []Pushed{{Seq: 1, Data: []byte(`{"v":1,"seq":1}`)}}},
		{"a framed entry among JSON ones", []Pushed{{Seq: 7, Data: []byte(`{"seq":7}`)}, {Seq: 8, Data: framed}, {Seq: 10, Data: []byte(`{}`)}}},
		{"an empty entry", []Pushed{{Seq: 1 << 60, Data: []byte{}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := AppendPush(nil, tc.entries)
			got, err := DecodePush(body)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.entries) {
				t.Fatalf("decoded %d entries, want %d", len(got), len(tc.entries))
			}
			for i := range got {
				if got[i].Seq != tc.entries[i].Seq || !bytes.Equal(got[i].Data, tc.entries[i].Data) {
					t.Errorf("entry %d: %d %q, want %d %q", i, got[i].Seq, got[i].Data, tc.entries[i].Seq, tc.entries[i].Data)
				}
			}
		})
	}
}

func TestPushBodyRefused(t *testing.T) {
	good := AppendPush(nil, []Pushed{{Seq: 3, Data: []byte("abc")}})
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"JSON, the old format", []byte(`[{"seq":1}]`)},
		{"wrong magic", append([]byte("SJP9"), good[4:]...)},
		{"frame cut short", good[:len(good)-4]},
		{"entry cut short", good[:len(good)-1]},
		{"length beyond the body", append(bytes.Clone(good[:12]), 0xff, 0xff, 0xff, 0xff)},
		{"entry 0", AppendPush(nil, []Pushed{{Seq: 0, Data: []byte("x")}})},
		{"out of order", AppendPush(nil, []Pushed{{Seq: 5}, {Seq: 4}})},
		{"repeated", AppendPush(nil, []Pushed{{Seq: 5}, {Seq: 5}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := DecodePush(tc.body); !errors.Is(err, errBadPush) {
				t.Errorf("DecodePush = %v, %v; want errBadPush", got, err)
			}
		})
	}
}

// FuzzDecodePush: the push decoder reads bytes from the network. It must
// never panic, and what it accepts must encode back to the same body.
func FuzzDecodePush(f *testing.F) {
	f.Add(AppendPush(nil, []Pushed{{Seq: 1, Data: []byte(`{"seq":1}`)}, {Seq: 2, Data: []byte("SJE2\x00\x00\x00\x02{}")}}))
	f.Add([]byte("SJP1"))
	f.Add([]byte("SJP1\x00\x00\x00\x00\x00\x00\x00\x01\xff\xff\xff\xff"))
	f.Add([]byte(`[{}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		entries, err := DecodePush(body)
		if err != nil {
			return
		}
		if again := AppendPush(nil, entries); !bytes.Equal(again, body) {
			t.Fatalf("decoded %s, which encodes to %q, not %q", fmt.Sprint(entries), again, body)
		}
	})
}
