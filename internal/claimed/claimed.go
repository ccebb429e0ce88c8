// Package claimed writes the journal commands that carry a group's claim,
// the journal's record of which agent coordinates the group: the
// coordinator takes its claim (claiming the group if another agent's claim
// is newer) and proposes the command with it, and the journal refuses the
// command once another agent has claimed the group since. Streams groups
// and share groups store their membership this way, under the same claim
// as the group's offset commits.
package claimed

import (
	"context"
	"time"

	"github.com/silt-io/silt/journal"
)

// Claim returns this agent's claim on a group, or a Kafka error code.
type Claim func(ctx context.Context, group string) (journal.GroupClaim, int16)

// Submit proposes commands to the journal and returns their results once
// applied, or a Kafka error code.
type Submit func(ctx context.Context, cmds ...journal.Command) ([]journal.Result, int16)

// Write takes the claim on group and submits the command build makes with
// it, waiting at most timeout; it returns the command's Kafka error code
// (NOT_COORDINATOR when the claim was superseded), 0 once it is applied.
func Write(ctx context.Context, claim Claim, submit Submit, timeout time.Duration, group string,
	build func(*journal.GroupClaim) journal.Command) int16 {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, code := claim(ctx, group)
	if code != 0 {
		return code
	}
	res, code := submit(ctx, build(&c))
	if code != 0 {
		return code
	}
	return res[0].Code
}
