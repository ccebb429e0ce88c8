//go:build race

package localstack

// raceEnabled reports whether this binary was built with -race; BuildBinary
// then builds the agent with -race too.
const raceEnabled = true
