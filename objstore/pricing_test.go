package objstore_test

import (
	"context"
	"math"
	"testing"

	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/objstore/mem"
	"github.com/silt-io/silt/objstore/objstorefault"
)

// Prices and request counters are found through every decorator.
func TestPricesAndMetricsThroughDecorators(t *testing.T) {
	m := objstore.NewMetrics(nil)
	decorated := func(b objstore.Bucket) objstore.Bucket {
		return objstorefault.Wrap(objstore.WithMetrics(objstore.WithPrefix(b, "p"), m))
	}
	for _, tc := range []struct {
		name   string
		bucket objstore.Bucket
		want   objstore.Prices
	}{
		{"memory has no per-request price", decorated(mem.New()), objstore.Prices{}},
		{"a store standing in for S3", decorated(objstore.WithPrices(mem.New(), objstore.S3ListPrices)), objstore.S3ListPrices},
		{"the outermost price wins", objstore.WithPrices(decorated(objstore.WithPrices(mem.New(), objstore.S3ListPrices)), objstore.Prices{}), objstore.Prices{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := objstore.PricesOf(tc.bucket); got != tc.want {
				t.Errorf("PricesOf = %+v, want %+v", got, tc.want)
			}
			if got := objstore.PricesOf(tc.bucket).PerRequest(); got != (tc.want != objstore.Prices{}) {
				t.Errorf("PerRequest = %v", got)
			}
			if objstore.MetricsOf(tc.bucket) != m {
				t.Error("MetricsOf did not find the request counters")
			}
		})
	}
	if _, err := decorated(mem.New()).Put(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if n := m.Snapshot().Requests[objstore.OpPut]; n != 1 {
		t.Errorf("%d PUTs counted, want 1", n)
	}
	if objstore.MetricsOf(mem.New()) != nil {
		t.Error("MetricsOf found counters on a bare bucket")
	}
}

// One PUT a second for a month at S3's list price is about $13.15.
func TestMonthly(t *testing.T) {
	if got := objstore.S3ListPrices.Monthly(1, 0); math.Abs(got-13.149) > 0.001 {
		t.Errorf("1 PUT/s = $%.3f a month, want $13.149", got)
	}
	if got := objstore.S3ListPrices.Monthly(0, 10); math.Abs(got-10.519) > 0.001 {
		t.Errorf("10 GET/s = $%.3f a month, want $10.519", got)
	}
}
