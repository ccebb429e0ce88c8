package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/smithy-go"

	"github.com/silt-io/silt/objstore"
)

// op names an operation in error messages and selects how mapError reads
// a status: a 404 means ErrNotFound to a read but ErrPreconditionFailed to
// PutIfMatch, a 412 ErrExists to PutIfAbsent.
type op string

const (
	opGet         op = "get"
	opGetRange    op = "get range"
	opHead        op = "head"
	opPut         op = "put"
	opPutIfAbsent op = "put-if-absent"
	opPutIfMatch  op = "put-if-match"
	opDelete      op = "delete"
	opList        op = "list"
)

// S3 error codes the driver classifies.
const (
	codeConditionalConflict = "ConditionalRequestConflict"
	codeNoSuchBucket        = "NoSuchBucket"
	codeNoSuchKey           = "NoSuchKey"
	codeNotFound            = "NotFound" // HEAD responses have no body, so the SDK names the status
	codePreconditionFailed  = "PreconditionFailed"
	codeInvalidRange        = "InvalidRange"
)

// mapError wraps an SDK error with the operation, the key and, where the
// status or code says so, an objstore sentinel. The SDK error stays
// wrapped beneath for its message and for errors.As. If ctx has ended the
// result also wraps ctx.Err(), whatever form the SDK gave the cancellation.
func mapError(ctx context.Context, op op, key string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("s3 %s %q: %w: %w", op, key, cerr, err)
	}
	if sentinel := classify(op, err); sentinel != nil {
		return fmt.Errorf("s3 %s %q: %w: %w", op, key, sentinel, err)
	}
	return fmt.Errorf("s3 %s %q: %w", op, key, err)
}

// classify returns the sentinel an S3 error stands for in op, or nil.
func classify(op op, err error) error {
	code, status := "", 0
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var withStatus interface{ HTTPStatusCode() int }
	if errors.As(err, &withStatus) {
		status = withStatus.HTTPStatusCode()
	}
	if status == 0 && code == "" {
		return nil // a transport error: no answer from the server at all
	}
	// A missing bucket is a configuration error, never "no such object":
	// read as ErrNotFound it would make an empty journal of a wrong URL.
	if code == codeNoSuchBucket {
		return nil
	}
	notFound := status == http.StatusNotFound || code == codeNoSuchKey || code == codeNotFound
	precondition := status == http.StatusPreconditionFailed || code == codePreconditionFailed
	switch op {
	case opGet, opHead, opDelete:
		if notFound {
			return objstore.ErrNotFound
		}
	case opGetRange:
		if notFound {
			return objstore.ErrNotFound
		}
		if status == http.StatusRequestedRangeNotSatisfiable || code == codeInvalidRange {
			return objstore.ErrInvalidRange
		}
	case opPutIfAbsent:
		if precondition {
			return objstore.ErrExists
		}
	case opPutIfMatch:
		// S3 answers If-Match on a missing key with 404 NoSuchKey; the
		// contract makes that a failed precondition like a wrong ETag.
		if precondition || notFound {
			return objstore.ErrPreconditionFailed
		}
	}
	return nil
}
