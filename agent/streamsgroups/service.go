package streamsgroups

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/clock"
	"github.com/silt-io/silt/journal"
)

// Config holds the group settings of streams groups; zero values take
// Kafka's defaults (DefaultConfig).
type Config struct {
	// SessionTimeout is group.streams.session.timeout.ms: a member not
	// heard from for this long is removed and its tasks reassigned.
	SessionTimeout time.Duration
	// HeartbeatInterval is group.streams.heartbeat.interval.ms.
	HeartbeatInterval time.Duration
	// NumStandbyReplicas is group.streams.num.standby.replicas.
	NumStandbyReplicas int
	// MaxSize is group.streams.max.size.
	MaxSize int
}

// DefaultConfig is Kafka's defaults for streams groups.
func DefaultConfig() Config {
	return Config{
		SessionTimeout:     45 * time.Second, // group.streams.session.timeout.ms
		HeartbeatInterval:  5 * time.Second,  // group.streams.heartbeat.interval.ms
		NumStandbyReplicas: 0,                // group.streams.num.standby.replicas
		MaxSize:            1 << 30,          // group.streams.max.size (Integer.MAX_VALUE)
	}
}

// Protocol values Kafka's coordinator sends to streams members.
const (
	// acceptableRecoveryLag is Kafka Streams' acceptable.recovery.lag
	// default, sent for the members' warm-up decisions.
	acceptableRecoveryLag = 10000
	// taskOffsetInterval is how often members report changelog offsets
	// (group.streams.task.offset.interval.ms).
	taskOffsetInterval = 60 * time.Second
	// defaultRebalanceTimeout bounds a revocation when the member named
	// none (Kafka Streams sends its max.poll.interval.ms).
	defaultRebalanceTimeout = 5 * time.Minute
)

// Env is everything streams groups need of their agent. OwnsGroup, Topics
// and CreateTopics are required.
type Env struct {
	Logger *slog.Logger
	Clock  clock.Clock
	Config Config
	// OwnsGroup reports whether this agent coordinates the group.
	OwnsGroup func(group string) bool
	// OtherType, if set, reports whether the group id is in use by a group
	// of another type (classic or consumer with members, or share), which
	// a streams member may not join.
	OtherType func(group string) bool
	// Topics reads the cluster's topics.
	Topics Topics
	// CreateTopics creates internal topics and returns, per topic, an
	// error message or "" (a topic that already exists is no error).
	CreateTopics func(ctx context.Context, topics []NewTopic) map[string]string

	// Journal, Submit and Claim, if all set, make the groups durable
	// (store.go); without them groups live in memory only.
	Journal Journal
	// Submit proposes commands to the journal and returns their results
	// once applied here, or a Kafka error code.
	Submit func(ctx context.Context, cmds ...journal.Command) ([]journal.Result, int16)
	// Claim returns this agent's claim on a group, claiming it if it
	// must: the claim its offset commits carry too.
	Claim func(ctx context.Context, group string) (journal.GroupClaim, int16)
	// CommitTimeout bounds one store (default 10 s).
	CommitTimeout time.Duration
	// GroupConfigs, if set, returns a group's own configs
	// (streams.num.standby.replicas…; config.go).
	GroupConfigs func(group string) map[string]string
}

// Service is the streams groups an agent coordinates.
type Service struct {
	env   Env
	log   *slog.Logger
	clock clock.Clock
	cfg   Config
	ctx   context.Context // ends at Close, for stores in the background
	stop  context.CancelFunc
	wg    sync.WaitGroup

	mu struct {
		sync.Mutex
		groups map[string]*group
		closed bool
	}
}

// New returns a service with no groups.
func New(env Env) *Service {
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	if env.Clock == nil {
		env.Clock = clock.Real{}
	}
	def := DefaultConfig()
	cfg := env.Config
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = def.SessionTimeout
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = def.HeartbeatInterval
	}
	if cfg.NumStandbyReplicas < 0 {
		cfg.NumStandbyReplicas = 0
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = def.MaxSize
	}
	s := &Service{env: env, log: env.Logger, clock: env.Clock, cfg: cfg}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.mu.groups = map[string]*group{}
	return s
}

// Close stops every timer and waits for the stores in flight (a few
// seconds at most). It is idempotent.
func (s *Service) Close() {
	s.mu.Lock()
	s.mu.closed = true
	for _, g := range s.mu.groups {
		g.stopTimers()
	}
	s.mu.groups = map[string]*group{}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	s.stop()
	<-done
}

// MembershipChanged lets go of the groups this agent no longer
// coordinates; their members rejoin at the new coordinator.
func (s *Service) MembershipChanged() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, g := range s.mu.groups {
		if !s.env.OwnsGroup(name) {
			g.stopTimers()
			delete(s.mu.groups, name)
		}
	}
}

// IsStreamsGroup reports whether name is a streams group this agent
// coordinates.
func (s *Service) IsStreamsGroup(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.env.OwnsGroup(name) && s.lookupLocked(name) != nil
}

// Listed is a streams group as ListGroups shows it.
type Listed struct {
	Name, State string
}

// List returns the streams groups this agent coordinates, those stored in
// the journal included.
func (s *Service) List() []Listed {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.durable() {
		var stored []string
		s.env.Journal.View(func(js *journal.State) { stored = slices.Collect(maps.Keys(js.StreamsGroups)) })
		for _, name := range stored {
			if s.env.OwnsGroup(name) {
				s.lookupLocked(name)
			}
		}
	}
	var out []Listed
	for name, g := range s.mu.groups {
		if s.env.OwnsGroup(name) {
			out = append(out, Listed{Name: name, State: g.state()})
		}
	}
	return out
}

// DeleteGroup deletes an empty streams group (from the journal too) and
// reports whether it knew it; a group with members is NON_EMPTY_GROUP.
// Its committed offsets are the caller's to delete.
func (s *Service) DeleteGroup(ctx context.Context, name string) (known bool, code int16) {
	s.mu.Lock()
	g := s.lookupLocked(name)
	switch {
	case g == nil:
		s.mu.Unlock()
		return false, 0
	case len(g.members) > 0:
		s.mu.Unlock()
		return true, nonEmptyGroup
	}
	g.stopTimers()
	delete(s.mu.groups, name)
	g.version++
	st := &journal.StoreStreamsGroup{Group: name, Version: g.version}
	s.mu.Unlock()
	if !s.durable() {
		return true, 0
	}
	return true, s.store(ctx, g, st)
}

// CheckMember checks an OffsetCommit's or OffsetFetch's member and epoch
// against a streams group: known reports whether name is a streams group
// here; code is 0 when the request may go on. A request from outside the
// group (no member id, epoch -1) is accepted while the group is empty.
func (s *Service) CheckMember(name, memberID string, epoch int32) (known bool, code int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.lookupLocked(name)
	if g == nil {
		return false, 0
	}
	if memberID == "" && epoch < 0 {
		if len(g.members) > 0 {
			return true, unknownMemberID
		}
		return true, 0
	}
	m := g.members[memberID]
	switch {
	case m == nil:
		return true, unknownMemberID
	case epoch == m.epoch || epoch == m.prevEpoch:
		return true, 0
	case epoch > m.epoch:
		return true, fencedMemberEpoch
	default:
		return true, staleMemberEpoch
	}
}

// Describe describes a streams group for StreamsGroupDescribe.
func (s *Service) Describe(name string) kmsg.StreamsGroupDescribeResponseGroup {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := kmsg.NewStreamsGroupDescribeResponseGroup()
	out.Group = name
	var g *group
	if s.env.OwnsGroup(name) {
		g = s.lookupLocked(name)
	}
	switch {
	case !s.env.OwnsGroup(name):
		out.ErrorCode = notCoordinator
		return out
	case g == nil:
		out.ErrorCode, out.State = groupIDNotFound, "Dead"
		msg := "group " + name + " is not a streams group"
		out.ErrorMessage = &msg
		return out
	}
	return g.describe()
}
