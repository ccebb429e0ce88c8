package minio

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/silt-io/silt/objstore"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		op     op
		status int
		code   string
		want   error
	}{
		{opGet, 404, "NoSuchKey", objstore.ErrNotFound},
		{opGet, 404, "NoSuchBucket", nil},
		{opHead, 404, "NoSuchKey", objstore.ErrNotFound},
		{opGet, 403, "AccessDenied", nil},
		{opGet, 500, "InternalError", nil},
		{opGetRange, 416, "InvalidRange", objstore.ErrInvalidRange},
		{opGetRange, 404, "NoSuchKey", objstore.ErrNotFound},
		{opGet, 416, "InvalidRange", nil},
		{opPutIfAbsent, 412, "PreconditionFailed", objstore.ErrExists},
		{opPutIfAbsent, 409, "ConditionalRequestConflict", nil},
		{opPutIfAbsent, 404, "NoSuchBucket", nil},
		{opPutIfMatch, 412, "PreconditionFailed", objstore.ErrPreconditionFailed},
		{opPutIfMatch, 404, "NoSuchKey", objstore.ErrPreconditionFailed},
		{opPutIfMatch, 404, "NoSuchBucket", nil},
		{opPut, 412, "PreconditionFailed", nil},
		{opDelete, 404, "NoSuchKey", objstore.ErrNotFound},
		{opList, 404, "NoSuchBucket", nil},
	} {
		src := minio.ErrorResponse{StatusCode: tc.status, Code: tc.code, Message: "m"}
		err := mapError(context.Background(), tc.op, "k", fmt.Errorf("wrapped: %w", src))
		for _, s := range []error{objstore.ErrNotFound, objstore.ErrExists, objstore.ErrPreconditionFailed, objstore.ErrInvalidRange} {
			if got := errors.Is(err, s); got != (s == tc.want) {
				t.Errorf("%s %d %q: errors.Is(%v, %v) = %v", tc.op, tc.status, tc.code, err, s, got)
			}
		}
		var resp minio.ErrorResponse
		if !errors.As(err, &resp) {
			t.Errorf("%s %d %q: the minio-go error is not wrapped: %v", tc.op, tc.status, tc.code, err)
		}
	}
}

func TestMapErrorCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := mapError(ctx, opGet, "k", errors.New("request failed"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want it to wrap context.Canceled", err)
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in     string
		host   string
		secure bool
		lookup minio.BucketLookupType
		bad    bool
	}{
		{in: "", host: "s3.amazonaws.com", secure: true, lookup: minio.BucketLookupAuto},
		{in: "http://127.0.0.1:9000", host: "127.0.0.1:9000", lookup: minio.BucketLookupPath},
		{in: "http://127.0.0.1:9000/", host: "127.0.0.1:9000", lookup: minio.BucketLookupPath},
		{in: "https://minio.example.com", host: "minio.example.com", secure: true, lookup: minio.BucketLookupPath},
		{in: "127.0.0.1:9000", bad: true},
		{in: "ftp://host", bad: true},
		{in: "http://host/base/path", bad: true},
		{in: "http://", bad: true},
	} {
		host, secure, lookup, err := parseEndpoint(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseEndpoint(%q) succeeded, want an error", tc.in)
			}
			continue
		}
		if err != nil || host != tc.host || secure != tc.secure || lookup != tc.lookup {
			t.Errorf("parseEndpoint(%q) = %q, %v, %v, %v; want %q, %v, %v", tc.in, host, secure, lookup, err, tc.host, tc.secure, tc.lookup)
		}
	}
}
