package objstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/objstore/mem"
	"github.com/silt-io/silt/objstore/objstoretest"
)

func TestParseURL(t *testing.T) {
	abs, _ := filepath.Abs("silt-data")
	for _, tc := range []struct {
		in      string
		want    objstore.Location
		wantErr bool
	}{
		{in: "s3://bucket", want: objstore.Location{Scheme: "s3", Bucket: "bucket"}},
		{in: "s3://bucket/a/b/", want: objstore.Location{Scheme: "s3", Bucket: "bucket", Prefix: "a/b"}},
		{in: "minio://b/p", want: objstore.Location{Scheme: "minio", Bucket: "b", Prefix: "p"}},
		{in: "file:///var/lib/silt", want: objstore.Location{Scheme: "file", Bucket: "/var/lib/silt"}},
		{in: "./silt-data", want: objstore.Location{Scheme: "file", Bucket: abs}},
		{in: "/abs/dir/", want: objstore.Location{Scheme: "file", Bucket: "/abs/dir"}},
		{in: "mem://x", want: objstore.Location{Scheme: "mem", Bucket: "x"}},
		{in: "", wantErr: true},
		{in: "s3://", wantErr: true},
		{in: "s3:///prefix", wantErr: true},
		{in: "file://host/dir", wantErr: true},
	} {
		got, err := objstore.ParseURL(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestOpenUnknownScheme(t *testing.T) {
	if _, err := objstore.Open(context.Background(), "gcs://b", objstore.Config{}); err == nil {
		t.Fatal("Open of an unregistered scheme succeeded")
	}
}

func TestOpenAppliesPrefixAndMetrics(t *testing.T) {
	ctx := context.Background()
	m := objstore.NewMetrics(nil)
	b, err := objstore.Open(ctx, "mem://open-test/cluster-a", objstore.Config{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, "k", []byte("12345")); err != nil {
		t.Fatal(err)
	}
	if _, err := objstore.ReadAll(ctx, mem.Shared("open-test"), "cluster-a/k"); err != nil {
		t.Fatalf("object not stored under the prefix: %v", err)
	}
	if _, err := objstore.ReadAll(ctx, b, "k"); err != nil {
		t.Fatal(err)
	}
	for range b.List(ctx, "", "") {
	}
	b.Head(ctx, "missing")
	b.Delete(ctx, "k")
	c := m.Snapshot()
	want := map[objstore.Op]int64{objstore.OpPut: 1, objstore.OpGet: 1, objstore.OpList: 1, objstore.OpHead: 1, objstore.OpDelete: 1}
	for op, n := range want {
		if c.Requests[op] != n {
			t.Errorf("%s requests = %d, want %d", op, c.Requests[op], n)
		}
	}
	if c.Errors[objstore.OpHead] != 1 || c.BytesOut != 5 || c.BytesIn != 5 {
		t.Errorf("counts = %+v", c)
	}
}

func TestListCountsPages(t *testing.T) {
	ctx := context.Background()
	m := objstore.NewMetrics(nil)
	b := objstore.WithMetrics(mem.New(), m)
	for i := range 2500 {
		b.Put(ctx, fmt.Sprintf("k/%04d", i), nil)
	}
	before := m.Snapshot()
	for range b.List(ctx, "", "") {
	}
	if got := m.Snapshot().Sub(before).Requests[objstore.OpList]; got != 3 {
		t.Errorf("listing 2500 keys counted %d requests, want 3", got)
	}
}

// The decorators must keep the contract themselves.
func TestConformanceThroughDecorators(t *testing.T) {
	objstoretest.RunWithOptions(t, func(t *testing.T) objstore.Bucket {
		return objstore.WithMetrics(objstore.WithPrefix(mem.New(), "p"), objstore.NewMetrics(nil))
	}, objstoretest.Options{LargeObjectSize: 4 << 20})
}
