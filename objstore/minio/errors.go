package minio

import (
	"context"
	"errors"

	"github.com/minio/minio-go/v7"

	"github.com/silt-io/silt/objstore/internal/s3errors"
)

// op and the op constants are the shared ones, named here for brevity.
type op = s3errors.Op

const (
	opGet         = s3errors.OpGet
	opGetRange    = s3errors.OpGetRange
	opHead        = s3errors.OpHead
	opPut         = s3errors.OpPut
	opPutIfAbsent = s3errors.OpPutIfAbsent
	opPutIfMatch  = s3errors.OpPutIfMatch
	opDelete      = s3errors.OpDelete
	opList        = s3errors.OpList

	codeConditionalConflict = s3errors.CodeConditionalConflict
)

// mapError wraps a minio-go error as s3errors.Wrap does, reading the
// status and code from minio-go's ErrorResponse. minio-go fills Code from
// the status when a response has no XML body (HEAD), so a 404 HEAD reads
// as NoSuchKey.
func mapError(ctx context.Context, op op, key string, err error) error {
	var resp minio.ErrorResponse
	code, status := "", 0
	if errors.As(err, &resp) {
		code, status = resp.Code, resp.StatusCode
	}
	return s3errors.Wrap(ctx, "minio", op, key, err, status, code)
}

// isConditionalConflict reports AWS S3's 409 ConditionalRequestConflict.
func isConditionalConflict(err error) bool {
	var resp minio.ErrorResponse
	return errors.As(err, &resp) && resp.Code == codeConditionalConflict
}
