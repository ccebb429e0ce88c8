package mem_test

import (
	"testing"

	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/objstore/mem"
	"github.com/silt-io/silt/objstore/objstoretest"
)

func TestConformance(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Bucket { return mem.New() })
}

func TestConformanceWithPrefix(t *testing.T) {
	objstoretest.RunWithOptions(t, func(t *testing.T) objstore.Bucket {
		return objstore.WithPrefix(mem.New(), "cluster/one")
	}, objstoretest.Options{LargeObjectSize: 1 << 20})
}
