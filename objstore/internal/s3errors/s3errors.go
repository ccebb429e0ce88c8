// Package s3errors maps the answers of S3-compatible servers to objstore's
// sentinels. Both S3 drivers use it: they differ only in how their SDK
// exposes the HTTP status and the S3 error code, not in what those mean.
package s3errors

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/silt-io/silt/objstore"
)

// Op names an operation in error messages and selects how a status is
// read: a 404 means ErrNotFound to a read but ErrPreconditionFailed to
// PutIfMatch, a 412 ErrExists to PutIfAbsent.
type Op string

// The operations of a Bucket.
const (
	OpGet         Op = "get"
	OpGetRange    Op = "get range"
	OpHead        Op = "head"
	OpPut         Op = "put"
	OpPutIfAbsent Op = "put-if-absent"
	OpPutIfMatch  Op = "put-if-match"
	OpDelete      Op = "delete"
	OpList        Op = "list"
)

// S3 error codes the drivers classify. HEAD responses have no body, so the
// SDKs name the status instead (NotFound, or NoSuchKey in minio-go).
const (
	CodeConditionalConflict = "ConditionalRequestConflict"
	CodeNoSuchBucket        = "NoSuchBucket"
	CodeNoSuchKey           = "NoSuchKey"
	CodeNotFound            = "NotFound"
	CodePreconditionFailed  = "PreconditionFailed"
	CodeInvalidRange        = "InvalidRange"
)

// Wrap wraps err, from driver's op on key, with the operation, the key
// and, where status or code says so, an objstore sentinel; err stays
// wrapped beneath for its message and for errors.As. If ctx has ended the
// result also wraps ctx.Err(), whatever form the SDK gave the cancellation.
// status and code are 0 and "" when the server gave no answer.
func Wrap(ctx context.Context, driver string, op Op, key string, err error, status int, code string) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%s %s %q: %w: %w", driver, op, key, cerr, err)
	}
	if sentinel := Classify(op, status, code); sentinel != nil {
		return fmt.Errorf("%s %s %q: %w: %w", driver, op, key, sentinel, err)
	}
	return fmt.Errorf("%s %s %q: %w", driver, op, key, err)
}

// Classify returns the sentinel an answer stands for in op, or nil.
func Classify(op Op, status int, code string) error {
	if status == 0 && code == "" {
		return nil // a transport error: no answer from the server at all
	}
	// A missing bucket is a configuration error, never "no such object":
	// read as ErrNotFound it would make an empty journal of a wrong URL.
	if code == CodeNoSuchBucket {
		return nil
	}
	notFound := status == http.StatusNotFound || code == CodeNoSuchKey || code == CodeNotFound
	precondition := status == http.StatusPreconditionFailed || code == CodePreconditionFailed
	switch op {
	case OpGet, OpHead, OpDelete:
		if notFound {
			return objstore.ErrNotFound
		}
	case OpGetRange:
		if notFound {
			return objstore.ErrNotFound
		}
		if status == http.StatusRequestedRangeNotSatisfiable || code == CodeInvalidRange {
			return objstore.ErrInvalidRange
		}
	case OpPutIfAbsent:
		if precondition {
			return objstore.ErrExists
		}
	case OpPutIfMatch:
		// S3 answers If-Match on a missing key with 404 NoSuchKey; the
		// contract makes that a failed precondition like a wrong ETag.
		if precondition || notFound {
			return objstore.ErrPreconditionFailed
		}
	}
	return nil
}
