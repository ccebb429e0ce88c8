package cache_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/silt-io/silt/cache"
)

// diskCache returns a cache whose memory holds two 1 KiB values (with keys
// of up to three bytes), over a disk tier in a fresh directory.
func diskCache(t *testing.T, diskBytes int64) (*cache.Cache, string) {
	dir := t.TempDir()
	c := newCache(t, cache.Options{
		MemoryBytes: 2 * cache.Charge("k00", make([]byte, 1024)),
		Dir:         dir,
		DiskBytes:   diskBytes,
	})
	return c, dir
}

// cacheFiles lists the cache's files in dir.
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		if strings.HasPrefix(de.Name(), cache.FilePrefix) {
			names = append(names, de.Name())
		}
	}
	return names
}

func TestEvictionDemotesAndGetPromotes(t *testing.T) {
	c, dir := diskCache(t, 0)
	for i := range 3 {
		c.Put(fmt.Sprintf("k%d", i), val(fmt.Sprint(i), 1024))
	}
	waitIdle(t, c)
	if cache.Resident(c, "k0") || !cache.OnDisk(c, "k0") {
		t.Fatalf("k0: resident %v, on disk %v; want evicted to disk", cache.Resident(c, "k0"), cache.OnDisk(c, "k0"))
	}
	if files := cacheFiles(t, dir); len(files) != 1 {
		t.Errorf("files = %v; want one", files)
	}

	v, ok := c.Get("k0")
	if !ok || string(v) != string(val("0", 1024)) {
		t.Fatalf("Get(k0) = %d bytes, %v; want the demoted value", len(v), ok)
	}
	if !cache.Resident(c, "k0") {
		t.Error("a disk hit was not promoted to memory")
	}
	if !cache.OnDisk(c, "k0") {
		t.Error("promotion removed the file; the tiers are inclusive")
	}
	waitIdle(t, c)
	s := c.Stats()
	if s.Hits != 1 || s.DiskHits != 1 || s.Evictions != 2 || s.DiskEntries != 2 {
		t.Errorf("Stats = %+v; want 1 hit from disk, 2 evictions (k0, then k1 for the promotion), 2 on disk", s)
	}
	if want := 2 * (20 + 2 + 1024); s.DiskBytes != int64(want) {
		t.Errorf("Stats.DiskBytes = %d; want %d (two files with 20-byte headers)", s.DiskBytes, want)
	}
}

func TestReEvictionDoesNotRewrite(t *testing.T) {
	c, dir := diskCache(t, 0)
	for i := range 3 {
		c.Put(fmt.Sprintf("k%d", i), val(fmt.Sprint(i), 1024))
	}
	waitIdle(t, c)
	before := cacheFiles(t, dir)
	c.Get("k0")                 // promote k0, evicting k1 to disk
	c.Put("k3", val("3", 1024)) // evicts k2
	c.Put("k4", val("4", 1024)) // evicts k0 again: already on disk
	waitIdle(t, c)
	after := cacheFiles(t, dir)
	if len(after) != 3 || !strings.Contains(strings.Join(after, " "), before[0]) {
		t.Errorf("files %v -> %v; want k0's file kept and one file each for k1, k2", before, after)
	}
}

func TestCorruptDiskFileIsAMiss(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(path string) error
	}{
		{"emptied", func(p string) error { return os.Truncate(p, 0) }},
		{"truncated header", func(p string) error { return os.Truncate(p, 10) }},
		{"truncated value", func(p string) error { return os.Truncate(p, 500) }},
		{"value byte flipped", func(p string) error { return flip(p, 700) }},
		{"checksum byte flipped", func(p string) error { return flip(p, 5) }},
		{"length byte flipped", func(p string) error { return flip(p, 12) }},
		{"extended", func(p string) error {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			f.Write([]byte("x"))
			return f.Close()
		}},
		{"removed", os.Remove},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := diskCache(t, 0)
			for i := range 3 {
				c.Put(fmt.Sprintf("k%d", i), val(fmt.Sprint(i), 1024))
			}
			waitIdle(t, c)
			path := cache.DiskPath(c, "k0")
			if err := tc.corrupt(path); err != nil {
				t.Fatal(err)
			}
			if v, ok := c.Get("k0"); ok {
				t.Fatalf("Get of a corrupt file = %d bytes; want a miss", len(v))
			}
			if cache.OnDisk(c, "k0") {
				t.Error("the corrupt file is still indexed")
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("the corrupt file was not removed: %v", err)
			}
			if s := c.Stats(); s.DiskErrors != 1 || s.DiskEntries != 0 || s.DiskBytes != 0 {
				t.Errorf("Stats = %+v; want 1 disk error and an empty disk tier", s)
			}
		})
	}
}

// flip inverts the byte at off in the file at path.
func flip(path string, off int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		return err
	}
	b[0] ^= 0xff
	_, err = f.WriteAt(b, off)
	return err
}

func TestOpenWipesTheCacheFilesOnly(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(mine, []byte("not the cache's"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := cache.Options{MemoryBytes: 2 * cache.Charge("k0", make([]byte, 1024)), Dir: dir}
	c := newCache(t, opts)
	for i := range 5 {
		c.Put(fmt.Sprintf("k%d", i), val(fmt.Sprint(i), 1024))
	}
	waitIdle(t, c)
	c.Close()
	if files := cacheFiles(t, dir); len(files) != 3 {
		t.Fatalf("files after Close = %v; want the three demoted values left", files)
	}

	c2 := newCache(t, opts)
	if files := cacheFiles(t, dir); len(files) != 0 {
		t.Errorf("files after reopening = %v; want none", files)
	}
	if _, ok := c2.Get("k0"); ok {
		t.Error("a reopened cache served a previous process's file")
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("opening removed a file that is not the cache's: %v", err)
	}
}

func TestDiskBudgetNeverExceeded(t *testing.T) {
	fileSize := int64(20 + 3 + 1024)
	budget := 5*fileSize + fileSize/2
	c, dir := diskCache(t, budget)
	for i := range 40 {
		c.Put(fmt.Sprintf("k%02d", i), val(fmt.Sprint(i), 1024))
		if s := c.Stats(); s.DiskBytes > budget {
			t.Fatalf("after %d puts DiskBytes = %d; budget %d", i+1, s.DiskBytes, budget)
		}
	}
	waitIdle(t, c)
	s := c.Stats()
	if s.DiskEntries != 5 || s.DiskBytes != 5*fileSize || s.DiskEvictions == 0 {
		t.Errorf("Stats = %+v; want 5 files of %d bytes after disk evictions", s, fileSize)
	}
	var total int64
	for _, name := range cacheFiles(t, dir) {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
	}
	if total != s.DiskBytes {
		t.Errorf("files total %d bytes; Stats.DiskBytes = %d", total, s.DiskBytes)
	}
	// The most recently demoted survive.
	for i := 33; i < 38; i++ {
		if !cache.OnDisk(c, fmt.Sprintf("k%02d", i)) {
			t.Errorf("k%02d, among the last demoted, is not on disk", i)
		}
	}
}

func TestPutAndDeleteInvalidateTheDiskCopy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		op      func(c *cache.Cache)
		want    string // value of k0 afterwards; "" for a miss
		wantDel bool
	}{
		{"Put", func(c *cache.Cache) { c.Put("k0", []byte("new")) }, "new", true},
		{"Delete", func(c *cache.Cache) { c.Delete("k0") }, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := diskCache(t, 0)
			for i := range 3 {
				c.Put(fmt.Sprintf("k%d", i), val(fmt.Sprint(i), 1024))
			}
			waitIdle(t, c)
			path := cache.DiskPath(c, "k0")
			tc.op(c)
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("the old file survived %s: %v", tc.name, err)
			}
			c.Put("k8", val("8", 1024))
			c.Put("k9", val("9", 1024)) // pushes k0 (if any) out of memory
			waitIdle(t, c)
			v, ok := c.Get("k0")
			if got := string(v); ok != (tc.want != "") || got != tc.want {
				t.Errorf("Get(k0) = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}
