package minio

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/minio/minio-go/v7"

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

// S3 error codes the driver classifies. minio-go fills Code from the
// status when a response has no XML body (HEAD), so a 404 HEAD reads as
// NoSuchKey.
const (
	codeConditionalConflict = "ConditionalRequestConflict"
	codeNoSuchBucket        = "NoSuchBucket"
	codeNoSuchKey           = "NoSuchKey"
	codeNotFound            = "NotFound"
	codePreconditionFailed  = "PreconditionFailed"
	codeInvalidRange        = "InvalidRange"
)

// mapError wraps a minio-go error with the operation, the key and, where
// the status or code says so, an objstore sentinel. The minio-go error
// stays wrapped beneath. If ctx has ended the result also wraps ctx.Err().
func mapError(ctx context.Context, op op, key string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("minio %s %q: %w: %w", op, key, cerr, err)
	}
	if sentinel := classify(op, err); sentinel != nil {
		return fmt.Errorf("minio %s %q: %w: %w", op, key, sentinel, err)
	}
	return fmt.Errorf("minio %s %q: %w", op, key, err)
}

// classify returns the sentinel a minio-go error stands for in op, or nil.
func classify(op op, err error) error {
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) || (resp.StatusCode == 0 && resp.Code == "") {
		return nil // a transport or client-side error: no answer from the server
	}
	code, status := resp.Code, resp.StatusCode
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

// isConditionalConflict reports AWS S3's 409 ConditionalRequestConflict.
func isConditionalConflict(err error) bool {
	var resp minio.ErrorResponse
	return errors.As(err, &resp) && resp.Code == codeConditionalConflict
}
