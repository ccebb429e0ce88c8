package sharegroups

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/silt-io/silt/journal"
)

// Group configs: the per-group settings of Kafka's GroupConfig that share
// groups read, with Kafka's defaults (the broker-wide group.share.*
// settings). They are set with IncrementalAlterConfigs on GROUP resources
// and kept in the journal.
var groupConfigDefaults = map[string]string{
	"share.auto.offset.reset":          "latest",
	"share.record.lock.duration.ms":    "30000",
	"share.delivery.count.limit":       "5",
	"share.partition.max.record.locks": "2000",
	"share.session.timeout.ms":         "45000",
	"share.heartbeat.interval.ms":      "5000",
	"share.isolation.level":            "read_uncommitted",
	"consumer.session.timeout.ms":      "45000",
	"consumer.heartbeat.interval.ms":   "5000",
}

// intRange bounds the integer group configs, as Kafka's GroupConfig does.
var intRange = map[string][2]int{
	"share.record.lock.duration.ms":    {1000, 3600000},
	"share.delivery.count.limit":       {2, 10},
	"share.partition.max.record.locks": {100, 10000},
	"share.session.timeout.ms":         {1000, 3600000},
	"share.heartbeat.interval.ms":      {1000, 3600000},
	"consumer.session.timeout.ms":      {1000, 3600000},
	"consumer.heartbeat.interval.ms":   {1000, 3600000},
}

// GroupConfigNames lists the group configs, for DescribeConfigs.
func GroupConfigNames() []string {
	out := make([]string, 0, len(groupConfigDefaults))
	for k := range groupConfigDefaults {
		out = append(out, k)
	}
	return out
}

// GroupConfigDefault returns a group config's default and whether the
// name is a group config.
func GroupConfigDefault(name string) (string, bool) {
	v, ok := groupConfigDefaults[name]
	return v, ok
}

// ValidateGroupConfig checks one group config value; the error says why
// it is refused (INVALID_CONFIG).
func ValidateGroupConfig(name, value string) error {
	if _, ok := groupConfigDefaults[name]; !ok {
		return fmt.Errorf("unknown group config %s", name)
	}
	if r, ok := intRange[name]; ok {
		n, err := strconv.Atoi(value)
		if err != nil || n < r[0] || n > r[1] {
			return fmt.Errorf("%s must be an integer in [%d, %d]", name, r[0], r[1])
		}
		return nil
	}
	switch name {
	case "share.auto.offset.reset":
		if value != "latest" && value != "earliest" {
			return fmt.Errorf("share.auto.offset.reset must be latest or earliest")
		}
	case "share.isolation.level":
		if value != "read_uncommitted" && value != "read_committed" {
			return fmt.Errorf("share.isolation.level must be read_uncommitted or read_committed")
		}
	}
	return nil
}

// settings are a share group's configs, read from the journal.
type settings struct {
	reset          string
	lockDuration   time.Duration
	deliveryLimit  int16
	maxLocks       int
	sessionTimeout time.Duration
	heartbeat      time.Duration
}

func settingsOf(s *journal.State, group string) settings {
	get := func(k string) string {
		if v, ok := s.GroupConfigs[group][k]; ok {
			return v
		}
		return groupConfigDefaults[k]
	}
	num := func(k string) int {
		n, err := strconv.Atoi(get(k))
		if err != nil {
			n, _ = strconv.Atoi(groupConfigDefaults[k])
		}
		return n
	}
	return settings{
		reset:          strings.ToLower(get("share.auto.offset.reset")),
		lockDuration:   time.Duration(num("share.record.lock.duration.ms")) * time.Millisecond,
		deliveryLimit:  int16(num("share.delivery.count.limit")),
		maxLocks:       num("share.partition.max.record.locks"),
		sessionTimeout: time.Duration(num("share.session.timeout.ms")) * time.Millisecond,
		heartbeat:      time.Duration(num("share.heartbeat.interval.ms")) * time.Millisecond,
	}
}
