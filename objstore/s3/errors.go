package s3

import (
	"context"
	"errors"

	"github.com/aws/smithy-go"

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

// mapError wraps an SDK error as s3errors.Wrap does, reading the status
// and code from the SDK's error types.
func mapError(ctx context.Context, op op, key string, err error) error {
	code, status := "", 0
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var withStatus interface{ HTTPStatusCode() int }
	if errors.As(err, &withStatus) {
		status = withStatus.HTTPStatusCode()
	}
	return s3errors.Wrap(ctx, "s3", op, key, err, status, code)
}
