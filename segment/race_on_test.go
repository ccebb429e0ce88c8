//go:build race

package segment

// raceEnabled skips allocation counts, which the race detector inflates.
const raceEnabled = true
