//go:build race

package localstacktest

// raceEnabled reports whether this binary was built with -race; BuildBinary
// then builds the agent with -race too.
const raceEnabled = true
