package browsertest

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Screenshots of every page are checked in under docs/console, where the
// README shows them. The test takes them anew on every run and compares
// them with the checked-in ones loosely, for layout regressions a text
// assertion would miss: same width, a height within a factor of two, and a
// page that is not blank. SILT_UPDATE_SCREENSHOTS=1 writes them to
// docs/console instead (the README's pictures).

// screenshotDir is docs/console from this package's directory.
const screenshotDir = "../../docs/console"

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var buf []byte
	if err := chromedp.Run(sctx, chromedp.FullScreenshot(&buf, 100)); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	got, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if ink := inked(got); ink < 0.02 {
		t.Errorf("screenshot %s is blank: %.1f%% of its pixels differ from the background", name, ink*100)
	}
	checked := filepath.Join(screenshotDir, name+".png")
	if os.Getenv("SILT_UPDATE_SCREENSHOTS") != "" {
		if err := os.WriteFile(checked, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	out := filepath.Join(t.TempDir(), name+".png")
	os.WriteFile(out, buf, 0o644)
	data, err := os.ReadFile(checked)
	if err != nil {
		t.Fatalf("no checked-in screenshot to compare %s with (make it with SILT_UPDATE_SCREENSHOTS=1): %v", name, err)
	}
	want, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("checked-in screenshot %s: %v", checked, err)
	}
	gb, wb := got.Bounds(), want.Bounds()
	if gb.Dx() != wb.Dx() || gb.Dy() > 2*wb.Dy() || 2*gb.Dy() < wb.Dy() {
		t.Errorf("screenshot %s is %dx%d, the checked-in one %dx%d: the layout changed (new one in %s)", name, gb.Dx(), gb.Dy(), wb.Dx(), wb.Dy(), out)
	}
}

// inked returns the share of pixels that differ from the most common
// colour.
func inked(img image.Image) float64 {
	counts := map[[3]uint32]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			counts[[3]uint32{r >> 8, g >> 8, bl >> 8}]++
		}
	}
	total, most := 0, 0
	for _, n := range counts {
		total += n
		most = max(most, n)
	}
	if total == 0 {
		return 0
	}
	return 1 - float64(most)/float64(total)
}
