package writer

import (
	"sync"
	"testing"
	"time"

	"github.com/silt-io/silt/internal/clock"
)

// armClock is a fake clock that remembers when its timers were set for, so
// a test can wait until the writer's goroutine has seen what it did.
type armClock struct {
	*clock.Fake
	mu    sync.Mutex
	armed []time.Time
}

func newArmClock() *armClock { return &armClock{Fake: clock.NewFake(time.Unix(1_000_000, 0))} }

func (c *armClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	c.mu.Lock()
	c.armed = append(c.armed, c.Now().Add(d))
	c.mu.Unlock()
	return c.Fake.AfterFunc(d, f)
}

// waitArmed waits (in real time, a few seconds at most) until a timer has
// been set for at.
func (c *armClock) waitArmed(t *testing.T, at time.Time) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		for _, a := range c.armed {
			if a.Equal(at) {
				c.mu.Unlock()
				return
			}
		}
		c.mu.Unlock()
		time.Sleep(100 * time.Microsecond)
	}
	t.Fatalf("no timer was set for %v", at)
}
