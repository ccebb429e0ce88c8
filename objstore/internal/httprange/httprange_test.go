package httprange

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/silt-io/silt/objstore"
)

func TestHeader(t *testing.T) {
	for _, tc := range []struct {
		off, length int64
		want        string
	}{
		{0, 1, "bytes=0-0"},
		{10, 90, "bytes=10-99"},
		{5, -1, "bytes=5-"},
		{1, 1<<63 - 1, "bytes=1-"}, // off+length would overflow
	} {
		if got := Header(tc.off, tc.length); got != tc.want {
			t.Errorf("Header(%d, %d) = %q, want %q", tc.off, tc.length, got, tc.want)
		}
	}
}

// closer records whether Check closed the body.
type closer struct {
	io.Reader
	closed bool
}

func (c *closer) Close() error { c.closed = true; return nil }

func TestCheck(t *testing.T) {
	const object = "0123456789" // the whole object, 10 bytes
	for _, tc := range []struct {
		name         string
		body         string
		contentRange string
		size         int64
		off, length  int64
		want         string
		wantErr      error // nil: any error if wantAnyErr
		wantAnyErr   bool
	}{
		{name: "exact", body: "234", contentRange: "bytes 2-4/10", size: 3, off: 2, length: 3, want: "234"},
		{name: "cut at end", body: "89", contentRange: "bytes 8-9/10", size: 2, off: 8, length: 5, want: "89"},
		{name: "to end", body: "56789", contentRange: "bytes 5-9/10", size: 5, off: 5, length: -1, want: "56789"},
		{name: "unknown total", body: "56", contentRange: "bytes 5-6/*", size: 2, off: 5, length: 2, want: "56"},
		{name: "server sent too much", body: "2345", contentRange: "bytes 2-5/10", size: 4, off: 2, length: 2, want: "23"},
		{name: "wrong start", body: "345", contentRange: "bytes 3-5/10", size: 3, off: 2, length: 3, wantAnyErr: true},
		{name: "short", body: "23", contentRange: "bytes 2-3/10", size: 2, off: 2, length: 3, wantAnyErr: true},
		{name: "short to end", body: "23", contentRange: "bytes 2-3/10", size: 2, off: 2, length: -1, wantAnyErr: true},
		{name: "malformed", body: "23", contentRange: "bytes 2-x/10", size: 2, off: 2, length: 2, wantAnyErr: true},
		{name: "last before first", body: "", contentRange: "bytes 4-2/10", size: 0, off: 4, length: 2, wantAnyErr: true},
		{name: "total too small", body: "23", contentRange: "bytes 2-3/3", size: 2, off: 2, length: 2, wantAnyErr: true},
		{name: "not bytes", body: "23", contentRange: "items 2-3/10", size: 2, off: 2, length: 2, wantAnyErr: true},
		{name: "ignored range", body: object, size: 10, off: 3, length: 4, want: "3456"},
		{name: "ignored range to end", body: object, size: 10, off: 7, length: -1, want: "789"},
		{name: "ignored range past end", body: object, size: 10, off: 10, length: 1, wantErr: objstore.ErrInvalidRange},
		{name: "ignored range empty object", body: "", size: 0, off: 0, length: 1, wantErr: objstore.ErrInvalidRange},
		{name: "ignored range no length", body: object, size: -1, off: 0, length: 1, wantAnyErr: true},
		{name: "ignored range body short", body: "01", size: 10, off: 5, length: 1, wantAnyErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := &closer{Reader: strings.NewReader(tc.body)}
			rc, err := Check(body, tc.contentRange, tc.size, tc.off, tc.length)
			if tc.wantErr != nil || tc.wantAnyErr {
				if err == nil {
					t.Fatalf("Check succeeded, want an error")
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if !body.closed {
					t.Errorf("body not closed on error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			got, _ := io.ReadAll(rc)
			if string(got) != tc.want {
				t.Errorf("read %q, want %q", got, tc.want)
			}
			rc.Close()
			if !body.closed {
				t.Errorf("Close did not close the body")
			}
		})
	}
}
