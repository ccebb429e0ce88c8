package s3

import (
	"context"
	"errors"
	"net/http"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/silt-io/silt/objstore"
)

// apiError builds the error the SDK returns for an HTTP error response.
func apiError(status int, code string) error {
	var inner error = errors.New("no body")
	if code != "" {
		inner = &smithy.GenericAPIError{Code: code, Message: "m"}
	}
	return &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      inner,
		},
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		op     op
		status int
		code   string
		want   error
	}{
		{opGet, 404, "NoSuchKey", objstore.ErrNotFound},
		{opGet, 404, "", objstore.ErrNotFound},
		{opGet, 404, "NoSuchBucket", nil},
		{opHead, 404, "NotFound", objstore.ErrNotFound},
		{opGet, 403, "AccessDenied", nil},
		{opGet, 500, "InternalError", nil},
		{opGetRange, 416, "InvalidRange", objstore.ErrInvalidRange},
		{opGetRange, 404, "NoSuchKey", objstore.ErrNotFound},
		{opGet, 416, "InvalidRange", nil}, // a whole-object read sends no range
		{opPutIfAbsent, 412, "PreconditionFailed", objstore.ErrExists},
		{opPutIfAbsent, 412, "", objstore.ErrExists},
		{opPutIfAbsent, 409, "ConditionalRequestConflict", nil}, // retried, then ambiguous
		{opPutIfAbsent, 404, "NoSuchBucket", nil},
		{opPutIfMatch, 412, "PreconditionFailed", objstore.ErrPreconditionFailed},
		{opPutIfMatch, 404, "NoSuchKey", objstore.ErrPreconditionFailed},
		{opPutIfMatch, 404, "NoSuchBucket", nil},
		{opPut, 412, "PreconditionFailed", nil},
		{opDelete, 404, "NoSuchKey", objstore.ErrNotFound},
		{opList, 404, "NoSuchBucket", nil},
	} {
		err := mapError(context.Background(), tc.op, "k", apiError(tc.status, tc.code))
		for _, s := range []error{objstore.ErrNotFound, objstore.ErrExists, objstore.ErrPreconditionFailed, objstore.ErrInvalidRange} {
			if got := errors.Is(err, s); got != (s == tc.want) {
				t.Errorf("%s %d %q: errors.Is(%v, %v) = %v", tc.op, tc.status, tc.code, err, s, got)
			}
		}
		var re *awshttp.ResponseError
		if !errors.As(err, &re) {
			t.Errorf("%s %d %q: the SDK error is not wrapped: %v", tc.op, tc.status, tc.code, err)
		}
	}
}

func TestMapErrorCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := mapError(ctx, opGet, "k", errors.New("request send failed"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want it to wrap context.Canceled", err)
	}
}

func TestUnquote(t *testing.T) {
	for in, want := range map[string]string{`"abc"`: "abc", "abc": "abc", `"`: `"`, "": "", `""`: ""} {
		if got := unquote(in); got != want {
			t.Errorf("unquote(%q) = %q, want %q", in, got, want)
		}
	}
}
