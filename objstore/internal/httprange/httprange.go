// Package httprange turns objstore's (offset, length) reads into HTTP Range
// headers and checks the server's answer, for the two S3 drivers.
//
// Both drivers trust the server's status codes for the common cases (206
// with the bytes asked for, 416 past the end), but a server may also ignore
// the Range header and send the whole object with 200, or answer with bytes
// other than those requested. Check makes every such answer either the
// exact bytes objstore.Reader.GetRange promises or an error, so a chunk is
// never decoded from the wrong offset.
package httprange

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/silt-io/silt/objstore"
)

// Header returns the Range header value for length bytes from off; a
// negative length reads to the end. off must be >= 0 and length != 0.
func Header(off, length int64) string {
	if length < 0 || off > math.MaxInt64-length {
		return fmt.Sprintf("bytes=%d-", off)
	}
	return fmt.Sprintf("bytes=%d-%d", off, off+length-1)
}

// Check validates a ranged GET's response and returns the reader to give
// the caller. contentRange is the Content-Range header ("" if the server
// sent the whole object), size the response's Content-Length (-1 if
// unknown). On error body is closed.
//
//   - 206 Content-Range "bytes a-b/n": a must be off and b must reach
//     min(off+length, n)-1; the body is capped at length.
//   - no Content-Range: the server ignored Range and sent the whole object
//     of size bytes. Check skips to off and caps at length, and returns
//     objstore.ErrInvalidRange if off >= size, as a 416 would have.
func Check(body io.ReadCloser, contentRange string, size, off, length int64) (io.ReadCloser, error) {
	if contentRange == "" {
		if size < 0 {
			body.Close()
			return nil, errors.New("server ignored the Range header and sent no Content-Length")
		}
		if off >= size {
			body.Close()
			return nil, fmt.Errorf("%w: offset %d of a %d-byte object", objstore.ErrInvalidRange, off, size)
		}
		if _, err := io.CopyN(io.Discard, body, off); err != nil {
			body.Close()
			return nil, fmt.Errorf("skip to offset %d of a whole-object response: %w", off, err)
		}
		return limit(body, length), nil
	}
	first, last, total, err := parse(contentRange)
	if err != nil {
		body.Close()
		return nil, err
	}
	want := int64(-1) // last byte the server must send; -1 if total is unknown
	if total >= 0 {
		want = total - 1
		if length >= 0 && off <= math.MaxInt64-length && off+length < total {
			want = off + length - 1
		}
	} else if length >= 0 && off <= math.MaxInt64-length {
		want = off + length - 1
	}
	if first != off || (want >= 0 && last < want) {
		body.Close()
		return nil, fmt.Errorf("asked for %s, server sent Content-Range %q", Header(off, length), contentRange)
	}
	return limit(body, length), nil
}

// parse reads "bytes first-last/total"; total is -1 for "*".
func parse(cr string) (first, last, total int64, err error) {
	bad := fmt.Errorf("malformed Content-Range %q", cr)
	spec, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, 0, 0, bad
	}
	rng, tot, ok := strings.Cut(spec, "/")
	if !ok {
		return 0, 0, 0, bad
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, bad
	}
	if first, err = strconv.ParseInt(a, 10, 64); err != nil || first < 0 {
		return 0, 0, 0, bad
	}
	if last, err = strconv.ParseInt(b, 10, 64); err != nil || last < first {
		return 0, 0, 0, bad
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil || total <= last {
			return 0, 0, 0, bad
		}
	}
	return first, last, total, nil
}

// limit caps body at length bytes (no cap if length < 0), keeping its Close.
func limit(body io.ReadCloser, length int64) io.ReadCloser {
	if length < 0 {
		return body
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(body, length), body}
}
