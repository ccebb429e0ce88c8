package console

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// Limits of the record browser.
const (
	defaultRecords = 50
	maxRecords     = 500
	// readBytes bounds the batches one read takes (whole batches, at
	// least one), as a Fetch's partition max bytes.
	readBytes = 1 << 20
)

// RecordsView is the record browser: records of one partition from an
// offset or a time.
type RecordsView struct {
	Topic       string `json:"topic"`
	Partition   int32  `json:"partition"`
	Partitions  int    `json:"partitions"`
	StartOffset int64  `json:"start_offset"`
	EndOffset   int64  `json:"end_offset"`
	// From is the offset read from; Next the one to read from for more.
	From    int64       `json:"from"`
	Next    int64       `json:"next"`
	Format  string      `json:"-"`
	Time    string      `json:"-"`
	Limit   int         `json:"-"`
	Records []RecordRow `json:"records"`
}

// RecordRow is a record as the API shows it: bytes that are valid UTF-8 as
// text, others as base64 (and hex on the page).
type RecordRow struct {
	Offset    int64       `json:"offset"`
	Timestamp int64       `json:"timestamp"`
	Time      time.Time   `json:"time"`
	Key       *Data       `json:"key"`
	Value     *Data       `json:"value"`
	Headers   []HeaderRow `json:"headers"`
}

// HeaderRow is a record header.
type HeaderRow struct {
	Key   string `json:"key"`
	Value *Data  `json:"value"`
}

// Data is a key, value or header value; nil is Kafka's null.
type Data struct {
	// Encoding is "utf-8" (Data is the text) or "base64".
	Encoding string `json:"encoding"`
	Data     string `json:"data"`
	raw      []byte
}

func newData(b []byte) *Data {
	if b == nil {
		return nil
	}
	if utf8.Valid(b) {
		return &Data{Encoding: "utf-8", Data: string(b), raw: b}
	}
	return &Data{Encoding: "base64", Data: base64.StdEncoding.EncodeToString(b), raw: b}
}

// Binary reports whether the bytes are not valid UTF-8 text.
func (d *Data) Binary() bool { return d.Encoding != "utf-8" }

// Hex returns the bytes in hex, for the page.
func (d *Data) Hex() string { return hex.EncodeToString(d.raw) }

// Size returns the number of bytes.
func (d *Data) Size() int { return len(d.raw) }

func (s *Server) recordsView(r *http.Request) (any, error) {
	name := r.PathValue("topic")
	if err := validTopic(name); err != nil {
		return nil, err
	}
	pstr := r.PathValue("partition")
	if pstr == "" {
		pstr = r.URL.Query().Get("partition")
	}
	v := RecordsView{Topic: name, Format: r.URL.Query().Get("format"), Time: r.URL.Query().Get("time"), Records: []RecordRow{}}
	switch v.Format {
	case "":
		v.Format = "text"
	case "text", "hex":
	default:
		return nil, badRequest("format=%q: want text or hex", clip(v.Format))
	}
	if pstr != "" {
		p, err := strconv.ParseInt(pstr, 10, 32)
		if err != nil || p < 0 {
			return nil, badRequest("partition %q: want a partition number from 0 to %d", clip(pstr), math.MaxInt32)
		}
		v.Partition = int32(p)
	}
	limit, err := intParam(r, "limit", defaultRecords, 1, maxRecords)
	if err != nil {
		return nil, err
	}
	v.Limit = int(limit)
	t, err := s.src.Topic(name)
	if err != nil {
		return nil, err
	}
	v.Partitions = len(t.PartitionDetail)
	if int(v.Partition) >= len(t.PartitionDetail) {
		return nil, fmt.Errorf("topic %q has %d partitions, no partition %d: %w", name, len(t.PartitionDetail), v.Partition, ErrUnknownTopic)
	}
	part := t.PartitionDetail[v.Partition]
	req := ReadRequest{Topic: name, Partition: v.Partition, MaxRecords: v.Limit, MaxBytes: readBytes}
	req.Offset, err = intParam(r, "offset", part.StartOffset, 0, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	if v.Time != "" {
		ts, err := parseTime(v.Time)
		if err != nil {
			return nil, err
		}
		req.Timestamp = &ts
	}
	res, err := s.src.Read(r.Context(), req)
	if err != nil {
		var oe *OffsetError
		if errors.As(err, &oe) {
			return nil, err
		}
		return nil, fmt.Errorf("read %s/%d: %w", name, v.Partition, err)
	}
	v.StartOffset, v.EndOffset, v.From, v.Next = res.StartOffset, res.EndOffset, res.From, res.From
	for _, rec := range res.Records {
		row := RecordRow{Offset: rec.Offset, Timestamp: rec.Timestamp, Time: time.UnixMilli(rec.Timestamp).UTC(),
			Key: newData(rec.Key), Value: newData(rec.Value), Headers: []HeaderRow{}}
		for _, h := range rec.Headers {
			row.Headers = append(row.Headers, HeaderRow{Key: headerKey(h.Key), Value: newData(h.Value)})
		}
		v.Records = append(v.Records, row)
		v.Next = rec.Offset + 1
	}
	return v, nil
}

// headerKey makes a header key displayable: Kafka header keys are strings,
// but nothing stops a client sending bytes that are not UTF-8.
func headerKey(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return "0x" + hex.EncodeToString([]byte(s))
}

// parseTime reads a record-browser time: milliseconds since the epoch or
// RFC 3339.
func parseTime(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 {
			return 0, badRequest("time=%d: want milliseconds since 1970 or an RFC 3339 time", ms)
		}
		return ms, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, badRequest("time=%q: want milliseconds since 1970 or an RFC 3339 time such as 2026-01-02T15:04:05Z", clip(s))
}
