package minio_test

import (
	"testing"

	_ "github.com/silt-io/silt/objstore/minio"
	"github.com/silt-io/silt/objstore/s3compattest"
)

// TestDriver runs the shared S3 suite, conformance included, against a
// versitygw server on loopback.
func TestDriver(t *testing.T) { s3compattest.Run(t, "minio") }
