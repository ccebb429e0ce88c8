package s3server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/silt-io/silt/localstack/s3server"
	"github.com/silt-io/silt/localstack/s3server/s3servertest"
)

func TestStartAndClose(t *testing.T) {
	ctx := context.Background()
	srv, err := s3server.Start(ctx, s3server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.HasPrefix(srv.Endpoint(), "http://127.0.0.1:") {
		t.Errorf("Endpoint() = %q", srv.Endpoint())
	}
	env := strings.Join(srv.Env(), "\n")
	for _, want := range []string{
		"AWS_ACCESS_KEY_ID=" + srv.AccessKey(),
		"AWS_SECRET_ACCESS_KEY=" + srv.SecretKey(),
		"AWS_REGION=" + srv.Region(),
		"SILT_S3_ENDPOINT=" + srv.Endpoint(),
	} {
		if !strings.Contains(env, want) {
			t.Errorf("Env() lacks %q", want)
		}
	}
	for range 2 { // creating a bucket we own again is not an error
		if err := srv.CreateBucket(ctx, "bkt1"); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(filepath.Join(srv.Dir(), "bkt1")); err != nil || !fi.IsDir() {
		t.Errorf("bucket bkt1 is not a directory under %s: %v", srv.Dir(), err)
	}
	logPath := srv.LogPath()
	if _, err := os.Stat(logPath); err != nil {
		t.Errorf("log file: %v", err)
	}

	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(logPath)); !os.IsNotExist(err) {
		t.Errorf("work directory survived Close: %v", err)
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := client.Get(srv.Endpoint()); err == nil {
		resp.Body.Close()
		t.Errorf("server still answers after Close")
	}
}

func TestDirIsKept(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	srv, err := s3server.Start(ctx, s3server.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateBucket(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("kept"), Key: aws.String("a/b"), Body: strings.NewReader("data"),
	}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "kept", "a", "b")); err != nil || string(b) != "data" {
		t.Errorf("object file after Close = %q, %v", b, err)
	}

	// A new server on the same directory serves the same data.
	srv, err = s3server.Start(ctx, s3server.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	out, err := srv.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("kept"), Key: aws.String("a/b")})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	if b, _ := io.ReadAll(out.Body); string(b) != "data" {
		t.Errorf("restarted server returned %q", b)
	}
}

func TestParallelServers(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			srv := s3servertest.StartT(t)
			key := fmt.Sprintf("from-%d", i)
			if _, err := srv.Client().PutObject(context.Background(), &s3.PutObjectInput{
				Bucket: aws.String(s3server.TestBucket), Key: aws.String(key), Body: strings.NewReader(key),
			}); err != nil {
				t.Errorf("server %d: %v", i, err)
			}
			out, err := srv.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(s3server.TestBucket)})
			if err != nil {
				t.Errorf("server %d: %v", i, err)
				return
			}
			if len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != key {
				t.Errorf("server %d sees objects of another server", i)
			}
		})
	}
	wg.Wait()
}

func TestBadBinaryEnv(t *testing.T) {
	t.Setenv(s3server.EnvBinary, filepath.Join(t.TempDir(), "no-such-versitygw"))
	if _, err := s3server.FindBinary(context.Background()); err == nil {
		t.Fatalf("FindBinary accepted a missing $%s", s3server.EnvBinary)
	}
	if _, err := s3server.Start(context.Background(), s3server.Options{}); err == nil {
		t.Fatalf("Start succeeded with a missing $%s", s3server.EnvBinary)
	}
}

// status returns the HTTP status and S3 error code of an SDK error.
func status(err error) (int, string) {
	var code string
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode(), code
	}
	return 0, code
}

// TestVersityBehaviour pins down the answers of versitygw that silt's S3
// drivers map to objstore's sentinels, so a versitygw upgrade that changes
// one fails here, by name, rather than somewhere in a driver's suite.
func TestVersityBehaviour(t *testing.T) {
	srv := s3servertest.StartT(t)
	c := srv.Client()
	ctx := context.Background()
	bucket := aws.String(s3server.TestBucket)
	put := func(key, data string, in s3.PutObjectInput) (*s3.PutObjectOutput, error) {
		in.Bucket, in.Key, in.Body = bucket, aws.String(key), strings.NewReader(data)
		return c.PutObject(ctx, &in)
	}
	getRange := func(key, rng string) (string, string, error) {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String(key), Range: aws.String(rng)})
		if err != nil {
			return "", "", err
		}
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		return string(b), aws.ToString(out.ContentRange), err
	}
	expect := func(t *testing.T, err error, wantStatus int, wantCode string) {
		t.Helper()
		if st, code := status(err); st != wantStatus || code != wantCode {
			t.Errorf("got %d %q (%v), want %d %q", st, code, err, wantStatus, wantCode)
		}
	}

	first, err := put("obj", "hello!", s3.PutObjectInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := put("empty", "", s3.PutObjectInput{}); err != nil {
		t.Fatal(err)
	}

	t.Run("IfNoneMatchExisting", func(t *testing.T) {
		_, err := put("obj", "other", s3.PutObjectInput{IfNoneMatch: aws.String("*")})
		expect(t, err, 412, "PreconditionFailed")
	})
	t.Run("IfMatchWrongETag", func(t *testing.T) {
		_, err := put("obj", "other", s3.PutObjectInput{IfMatch: aws.String(`"0123456789abcdef0123456789abcdef"`)})
		expect(t, err, 412, "PreconditionFailed")
	})
	t.Run("IfMatchMissingKey", func(t *testing.T) {
		_, err := put("missing", "other", s3.PutObjectInput{IfMatch: first.ETag})
		expect(t, err, 404, "NoSuchKey")
	})
	t.Run("IfMatchRightETag", func(t *testing.T) {
		out, err := put("obj", "hello!", s3.PutObjectInput{IfMatch: first.ETag})
		if err != nil {
			t.Fatal(err)
		}
		// Same bytes, same (MD5) ETag: a CAS that rewrites identical content
		// leaves the ETag where it was.
		if aws.ToString(out.ETag) != aws.ToString(first.ETag) {
			t.Errorf("ETag %s after rewriting identical bytes, was %s", aws.ToString(out.ETag), aws.ToString(first.ETag))
		}
	})
	t.Run("RangePastEnd", func(t *testing.T) {
		body, cr, err := getRange("obj", "bytes=4-100")
		if err != nil || body != "o!" || cr != "bytes 4-5/6" {
			t.Errorf("bytes=4-100 of 6 bytes = %q, Content-Range %q, %v; want cut short", body, cr, err)
		}
		_, _, err = getRange("obj", "bytes=6-")
		expect(t, err, 416, "InvalidRange")
		_, _, err = getRange("obj", "bytes=100-200")
		expect(t, err, 416, "InvalidRange")
	})
	t.Run("RangeOfEmptyObject", func(t *testing.T) {
		_, _, err := getRange("empty", "bytes=0-")
		expect(t, err, 416, "InvalidRange")
		_, _, err = getRange("empty", "bytes=0-0")
		expect(t, err, 416, "InvalidRange")
	})
	t.Run("HeadMissing", func(t *testing.T) {
		_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String("missing")})
		expect(t, err, 404, "NotFound")
	})
	t.Run("GetMissingBucket", func(t *testing.T) {
		_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("k")})
		expect(t, err, 404, "NoSuchBucket")
	})
	t.Run("DeleteMissing", func(t *testing.T) {
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: aws.String("missing/key")}); err != nil {
			t.Errorf("DeleteObject of a missing key: %v", err)
		}
	})
	// The posix backend stores "a/b" as file b in directory a, so an object
	// cannot also be a "directory" of other objects. AWS S3 allows both;
	// silt's key layout never needs it.
	t.Run("FileDirectoryConflicts", func(t *testing.T) {
		if _, err := put("tree/leaf", "x", s3.PutObjectInput{}); err != nil {
			t.Fatal(err)
		}
		_, err := put("tree", "x", s3.PutObjectInput{})
		expect(t, err, 409, "ExistingObjectIsDirectory")
		_, err = put("tree/leaf/deeper", "x", s3.PutObjectInput{})
		expect(t, err, 409, "ObjectParentIsFile")
	})
	t.Run("ListStartAfterPages", func(t *testing.T) {
		const n = 2500
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i := range n {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				if _, err := put(fmt.Sprintf("many/%05d", i), "x", s3.PutObjectInput{}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		in := &s3.ListObjectsV2Input{Bucket: bucket, Prefix: aws.String("many/"), StartAfter: aws.String("many/00499")}
		var pages []int
		next := 500
		for {
			out, err := c.ListObjectsV2(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, len(out.Contents))
			for _, o := range out.Contents {
				if want := fmt.Sprintf("many/%05d", next); aws.ToString(o.Key) != want {
					t.Fatalf("page %d: key %q, want %q", len(pages), aws.ToString(o.Key), want)
				}
				next++
			}
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			in.ContinuationToken = out.NextContinuationToken
		}
		if next != n || fmt.Sprint(pages) != "[1000 1000]" {
			t.Errorf("listed up to %d in pages %v; want %d keys in pages [1000 1000]", next, pages, n)
		}
	})
	t.Run("ConcurrentIfNoneMatch", func(t *testing.T) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, codes := 0, map[string]int{}
		start := make(chan struct{})
		for i := range 32 {
			wg.Go(func() {
				<-start
				_, err := put("race", fmt.Sprint(i), s3.PutObjectInput{IfNoneMatch: aws.String("*")})
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					won++
					return
				}
				st, code := status(err)
				codes[fmt.Sprintf("%d %s", st, code)]++
			})
		}
		close(start)
		wg.Wait()
		if won != 1 || codes["412 PreconditionFailed"] != 31 {
			t.Errorf("%d winners, losers %v; want 1 winner and 31 × 412", won, codes)
		}
	})
	// A conditional PUT whose precondition fails is answered before its
	// body is read, and the connection closed. Small bodies fit the socket
	// buffers and the client sees the 412. From about 512 KiB on loopback,
	// the unread body often turns the close into a connection reset that
	// destroys the 412 (the SDK's Expect: 100-continue above 2 MiB does not
	// help: versitygw's HTTP server answers 100 Continue before the handler
	// checks the precondition). The caller then gets an ambiguous transport
	// error, not ErrExists. The object must stay untouched either way.
	t.Run("LargeConditionalPutRejected", func(t *testing.T) {
		small := bytes.Repeat([]byte("s"), 64<<10)
		large := bytes.Repeat([]byte("0123456789abcdef"), 4<<20) // 64 MiB
		in := s3.PutObjectInput{Bucket: bucket, Key: aws.String("large"), Body: bytes.NewReader(small)}
		if _, err := c.PutObject(ctx, &in); err != nil {
			t.Fatal(err)
		}
		in.IfNoneMatch = aws.String("*")
		in.Body = bytes.NewReader(small)
		_, err := c.PutObject(ctx, &in)
		expect(t, err, 412, "PreconditionFailed")
		outcomes := map[string]int{}
		for range 5 {
			in.Body = bytes.NewReader(large)
			_, err := c.PutObject(ctx, &in)
			switch st, code := status(err); {
			case err == nil:
				t.Fatal("a conditional PUT on an existing key succeeded")
			case st == 412 && code == "PreconditionFailed":
				outcomes["412"]++
			default:
				outcomes["transport error"]++
			}
		}
		t.Logf("64 MiB If-None-Match on an existing key, 5 tries: %v", outcomes)
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String("large")})
		if err != nil || aws.ToInt64(head.ContentLength) != int64(len(small)) {
			t.Errorf("object after rejected puts: %v bytes, %v", aws.ToInt64(head.ContentLength), err)
		}
	})
}
