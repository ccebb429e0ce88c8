package agent

import (
	"bytes"
	"io"
	"runtime"
	"testing"
)

// readFrame reads a frame into one buffer of its size when that is at most
// wholeFrame, and grows a buffer as a larger one arrives; either way it
// returns exactly the bytes sent, and a frame cut short is an error.
func TestReadFrame(t *testing.T) {
	for _, size := range []int{8, 1000, 1 << 20, wholeFrame, wholeFrame + 1, 3*wholeFrame + 5} {
		sent := make([]byte, size)
		for i := range sent {
			sent[i] = byte(i * 7)
		}
		got, err := readFrame(bytes.NewReader(append(sent, "next frame"...)), size)
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if !bytes.Equal(got, sent) {
			t.Fatalf("%d bytes: read %d bytes that differ from those sent", size, len(got))
		}
		if _, err := readFrame(bytes.NewReader(sent[:size-1]), size); err == nil {
			t.Fatalf("%d bytes announced, one fewer sent: no error", size)
		}
	}
}

// A client that announces a frame far larger than wholeFrame and sends a
// few bytes costs about those bytes (a step of the growing buffer), not
// what it announced.
func TestReadFrameAnnouncedIsNotAllocated(t *testing.T) {
	const announced = 100 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := readFrame(io.LimitReader(bytes.NewReader(make([]byte, 10)), 10), announced)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("10 of 100 MiB sent: no error")
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Errorf("10 bytes of an announced 100 MiB frame allocated %d bytes", n)
	}
}
