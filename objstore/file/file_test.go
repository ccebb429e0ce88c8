package file_test

import (
	"testing"

	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/objstore/file"
	"github.com/silt-io/silt/objstore/objstoretest"
)

func TestConformance(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Bucket {
		b, err := file.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}
