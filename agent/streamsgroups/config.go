package streamsgroups

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
)

// Group configs of streams groups, set per group with
// IncrementalAlterConfigs on GROUP resources as on Kafka: each overrides
// the broker-wide default (Config) within Kafka's bounds.
var groupConfigs = map[string]struct {
	def      func(Config) int
	min, max int
}{
	"streams.num.standby.replicas":  {func(c Config) int { return c.NumStandbyReplicas }, 0, 2},                             // group.streams.max.standby.replicas
	"streams.session.timeout.ms":    {func(c Config) int { return int(c.SessionTimeout / time.Millisecond) }, 45000, 60000}, // group.streams.min/max.session.timeout.ms
	"streams.heartbeat.interval.ms": {func(c Config) int { return int(c.HeartbeatInterval / time.Millisecond) }, 5000, 15000},
}

// GroupConfigNames lists the streams group configs.
func GroupConfigNames() []string { return slices.Sorted(maps.Keys(groupConfigs)) }

// GroupConfigDefault returns a streams group config's default and whether
// the name is one.
func GroupConfigDefault(name string) (string, bool) {
	gc, ok := groupConfigs[name]
	if !ok {
		return "", false
	}
	return strconv.Itoa(gc.def(DefaultConfig())), true
}

// ValidateGroupConfig checks a streams group config's value; the error
// says why it is refused (INVALID_CONFIG).
func ValidateGroupConfig(name, value string) error {
	gc, ok := groupConfigs[name]
	if !ok {
		return fmt.Errorf("unknown group config %s", name)
	}
	if n, err := strconv.Atoi(value); err != nil || n < gc.min || n > gc.max {
		return fmt.Errorf("%s must be an integer in [%d, %d]", name, gc.min, gc.max)
	}
	return nil
}

// groupSettings are one group's effective settings: its configs over the
// service's defaults.
type groupSettings struct {
	standbys          int
	sessionTimeout    time.Duration
	heartbeatInterval time.Duration
}

func (s *Service) settings(group string) groupSettings {
	var own map[string]string
	if s.env.GroupConfigs != nil {
		own = s.env.GroupConfigs(group)
	}
	get := func(name string) int {
		if v, ok := own[name]; ok && ValidateGroupConfig(name, v) == nil {
			n, _ := strconv.Atoi(v)
			return n
		}
		return groupConfigs[name].def(s.cfg)
	}
	return groupSettings{
		standbys:          get("streams.num.standby.replicas"),
		sessionTimeout:    time.Duration(get("streams.session.timeout.ms")) * time.Millisecond,
		heartbeatInterval: time.Duration(get("streams.heartbeat.interval.ms")) * time.Millisecond,
	}
}
