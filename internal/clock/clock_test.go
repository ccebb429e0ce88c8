package clock

import (
	"slices"
	"testing"
	"time"
)

func TestFakeFiresInDeadlineOrder(t *testing.T) {
	start := time.Unix(1000, 0)
	c := NewFake(start)
	var fired []string
	c.AfterFunc(3*time.Second, func() { fired = append(fired, "3s") })
	c.AfterFunc(time.Second, func() {
		fired = append(fired, "1s")
		// Scheduled from a callback, due inside the window: fires too.
		c.AfterFunc(time.Second, func() { fired = append(fired, "1s+1s") })
	})
	stopped := c.AfterFunc(2*time.Second, func() { fired = append(fired, "stopped") })
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	if stopped.Stop() {
		t.Fatal("a second Stop reported true")
	}
	c.AfterFunc(10*time.Second, func() { fired = append(fired, "10s") })

	c.Advance(5 * time.Second)
	if want := []string{"1s", "1s+1s", "3s"}; !slices.Equal(fired, want) {
		t.Fatalf("fired %v, want %v", fired, want)
	}
	if got := c.Now(); !got.Equal(start.Add(5 * time.Second)) {
		t.Fatalf("Now = %v after Advance(5s), want %v", got, start.Add(5*time.Second))
	}
	if c.Pending() != 1 {
		t.Fatalf("%d timers pending, want the 10s one", c.Pending())
	}
}

func TestFakeCallbackSeesItsDeadline(t *testing.T) {
	start := time.Unix(0, 0)
	c := NewFake(start)
	var at time.Time
	c.AfterFunc(2*time.Second, func() { at = c.Now() })
	c.Advance(time.Minute)
	if !at.Equal(start.Add(2 * time.Second)) {
		t.Fatalf("callback saw %v, want its deadline %v", at, start.Add(2*time.Second))
	}
}

func TestRealAfterFunc(t *testing.T) {
	done := make(chan struct{})
	Real{}.AfterFunc(time.Millisecond, func() { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Real.AfterFunc never fired")
	}
}
