package streamsgroups

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Status codes of StreamsGroupHeartbeat's Status field (KIP-1071).
const (
	statusStaleTopology                int8 = 0
	statusMissingSourceTopics          int8 = 1
	statusIncorrectlyPartitionedTopics int8 = 2
	statusMissingInternalTopics        int8 = 3
	statusShutdownApplication          int8 = 4
)

// topology is a streams application's topology as its members sent it.
type topology struct {
	epoch int32
	subs  []subtopology // in the order sent
}

type subtopology struct {
	id                 string
	sources            []string
	regexes            []string
	repartitionSources []topicInfo
	repartitionSinks   []string
	changelogs         []topicInfo
	// copartition lists groups of topic names (sources and repartition
	// sources) that must have the same partition count.
	copartition [][]string
	// copartitionRegex lists, for each copartition group, the regular
	// expressions among its topics.
	copartitionRegex [][]string
}

// topicInfo is an internal topic as the topology asks for it.
type topicInfo struct {
	name       string
	partitions int32 // 0: derived
	configs    map[string]string
}

// NewTopic is an internal topic to create.
type NewTopic struct {
	Name       string
	Partitions int32
	Configs    map[string]string
}

// topologyFrom converts a heartbeat's topology, refusing one that is not
// well formed: an empty one, a subtopology without an id or sources, a
// duplicated subtopology id, or a copartition index out of range.
func topologyFrom(t *kmsg.StreamsGroupHeartbeatRequestTopology) (*topology, error) {
	if len(t.Subtopologies) == 0 {
		return nil, fmt.Errorf("the topology has no subtopologies")
	}
	out := &topology{epoch: t.Epoch}
	seen := map[string]bool{}
	for _, rs := range t.Subtopologies {
		if rs.SubtopologyID == "" || seen[rs.SubtopologyID] {
			return nil, fmt.Errorf("subtopology id %q is empty or repeated", rs.SubtopologyID)
		}
		seen[rs.SubtopologyID] = true
		s := subtopology{
			id:               rs.SubtopologyID,
			sources:          slices.Clone(rs.SourceTopics),
			regexes:          slices.Clone(rs.SourceTopicRegex),
			repartitionSinks: slices.Clone(rs.RepartitionSinkTopics),
		}
		for _, re := range s.regexes {
			if _, err := regexp.Compile(re); err != nil {
				return nil, fmt.Errorf("subtopology %s: source topic regex %q: %w", s.id, re, err)
			}
		}
		for _, ti := range rs.RepartitionSourceTopics {
			s.repartitionSources = append(s.repartitionSources, infoFrom(ti))
		}
		for _, ti := range rs.StateChangelogTopics {
			s.changelogs = append(s.changelogs, infoFrom(ti))
		}
		if len(s.sources)+len(s.regexes)+len(s.repartitionSources) == 0 {
			return nil, fmt.Errorf("subtopology %s has no source topics", s.id)
		}
		for _, cg := range rs.CopartitionGroups {
			var names, regexes []string
			for _, i := range cg.SourceTopics {
				if int(i) < 0 || int(i) >= len(s.sources) {
					return nil, fmt.Errorf("subtopology %s: copartition source topic index %d out of range", s.id, i)
				}
				names = append(names, s.sources[i])
			}
			for _, i := range cg.RepartitionSourceTopics {
				if int(i) < 0 || int(i) >= len(s.repartitionSources) {
					return nil, fmt.Errorf("subtopology %s: copartition repartition topic index %d out of range", s.id, i)
				}
				names = append(names, s.repartitionSources[i].name)
			}
			for _, i := range cg.SourceTopicRegex {
				if int(i) < 0 || int(i) >= len(s.regexes) {
					return nil, fmt.Errorf("subtopology %s: copartition regex index %d out of range", s.id, i)
				}
				regexes = append(regexes, s.regexes[i])
			}
			s.copartition = append(s.copartition, names)
			s.copartitionRegex = append(s.copartitionRegex, regexes)
		}
		out.subs = append(out.subs, s)
	}
	return out, nil
}

func infoFrom(ti kmsg.TopicInfo) topicInfo {
	out := topicInfo{name: ti.Topic, partitions: max(ti.NumPartitions, 0), configs: map[string]string{}}
	for _, c := range ti.Configs {
		out.configs[c.Key] = c.Value
	}
	return out
}

// Topics is what configuring a topology needs to know of the cluster.
type Topics interface {
	// Partitions returns a topic's partition count, false if it does not
	// exist.
	Partitions(topic string) (int32, bool)
	// Names lists every topic, for source topic regular expressions.
	Names() []string
}

// configured is a topology resolved against the cluster's topics.
type configured struct {
	// tasks is each subtopology's task count; nil while the topology
	// cannot be configured (see status).
	tasks map[string]int32
	// inputs is each subtopology's source and repartition source topics,
	// resolved, sorted: the partitions a task reads.
	inputs map[string][]string
	// internal is every internal topic with its partition count.
	internal map[string]NewTopic
	// create lists the internal topics that do not exist yet.
	create []NewTopic
	// status says why the topology is not configured, if it is not.
	status *kmsg.StreamsGroupHeartbeatResponseStatus
	// fingerprint changes whenever the task counts do.
	fingerprint string
}

func notConfigured(code int8, detail string) configured {
	st := kmsg.NewStreamsGroupHeartbeatResponseStatus()
	st.StatusCode, st.StatusDetail = code, detail
	return configured{status: &st, fingerprint: fmt.Sprintf("status %d %s", code, detail)}
}

// configure resolves t against topics as Kafka's coordinator does:
// source topics must exist; repartition topics without a fixed partition
// count take the largest partition count of the topics that feed the
// subtopologies writing into them; copartitioned topics must agree (a
// repartition topic among them is sized to match); a subtopology has as
// many tasks as its largest input; a changelog topic has one partition per
// task of its subtopology. Internal topics that exist must have the
// partition count computed; those missing are listed to create.
func configure(t *topology, topics Topics) configured {
	inputs := map[string][]string{}
	var names []string
	var missing []string
	for _, s := range t.subs {
		var in []string
		for _, src := range s.sources {
			if _, ok := topics.Partitions(src); !ok {
				missing = append(missing, src)
			}
			in = append(in, src)
		}
		for _, re := range s.regexes {
			if names == nil {
				names = topics.Names()
			}
			matched := matchRegex(re, names)
			if len(matched) == 0 {
				missing = append(missing, "regex "+re)
			}
			in = append(in, matched...)
		}
		for _, rs := range s.repartitionSources {
			in = append(in, rs.name)
		}
		slices.Sort(in)
		inputs[s.id] = slices.Compact(in)
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return notConfigured(statusMissingSourceTopics, "Source topics "+strings.Join(slices.Compact(missing), ", ")+" are missing.")
	}

	// Partition counts: the external topics' and the fixed ones first.
	count := map[string]int32{}
	repartition := map[string]topicInfo{}
	for _, s := range t.subs {
		for _, in := range inputs[s.id] {
			if n, ok := topics.Partitions(in); ok {
				count[in] = n
			}
		}
		for _, rs := range s.repartitionSources {
			repartition[rs.name] = rs
			delete(count, rs.name) // decided below, not by what exists
			if rs.partitions > 0 {
				count[rs.name] = rs.partitions
			}
		}
	}
	// Repartition topics take the largest input of their writers, once
	// all of a writer's inputs are known; repeat while that settles more.
	for changed := true; changed; {
		changed = false
		for name := range repartition {
			if _, ok := count[name]; ok {
				continue
			}
			var n int32
			known := true
			writers := 0
			for _, s := range t.subs {
				if !slices.Contains(s.repartitionSinks, name) {
					continue
				}
				writers++
				for _, in := range inputs[s.id] {
					c, ok := count[in]
					if !ok {
						known = false
					}
					n = max(n, c)
				}
			}
			if known && writers > 0 && n > 0 {
				count[name], changed = n, true
			}
		}
	}
	// Copartitioning.
	for _, s := range t.subs {
		for i, group := range s.copartition {
			members := slices.Clone(group)
			if names == nil && len(s.copartitionRegex[i]) > 0 {
				names = topics.Names()
			}
			for _, re := range s.copartitionRegex[i] {
				members = append(members, matchRegex(re, names)...)
			}
			if detail := copartition(members, repartition, count); detail != "" {
				return notConfigured(statusIncorrectlyPartitionedTopics, detail)
			}
		}
	}
	var unsized []string
	for name := range repartition {
		if _, ok := count[name]; !ok {
			unsized = append(unsized, name)
		}
	}
	if len(unsized) > 0 {
		slices.Sort(unsized)
		return notConfigured(statusIncorrectlyPartitionedTopics,
			"the partition count of repartition topics "+strings.Join(unsized, ", ")+" cannot be derived")
	}

	c := configured{tasks: map[string]int32{}, inputs: inputs, internal: map[string]NewTopic{}}
	var fp strings.Builder
	for _, s := range t.subs {
		var n int32
		for _, in := range inputs[s.id] {
			n = max(n, count[in])
		}
		c.tasks[s.id] = n
		fmt.Fprintf(&fp, "%s:%d;", s.id, n)
		for _, rs := range s.repartitionSources {
			c.internal[rs.name] = NewTopic{Name: rs.name, Partitions: count[rs.name], Configs: rs.configs}
		}
		for _, cl := range s.changelogs {
			c.internal[cl.name] = NewTopic{Name: cl.name, Partitions: n, Configs: cl.configs}
		}
	}
	var wrong []string
	for _, name := range slices.Sorted(maps.Keys(c.internal)) {
		want := c.internal[name]
		have, ok := topics.Partitions(name)
		switch {
		case !ok:
			c.create = append(c.create, want)
		case have != want.Partitions:
			wrong = append(wrong, fmt.Sprintf("%s has %d partitions, not %d", name, have, want.Partitions))
		}
	}
	if len(wrong) > 0 {
		return notConfigured(statusIncorrectlyPartitionedTopics, "internal topics are incorrectly partitioned: "+strings.Join(wrong, "; "))
	}
	c.fingerprint = fp.String()
	return c
}

// copartition checks one copartition group, sizing its repartition topics
// without a fixed count; it returns what is wrong, or "".
func copartition(members []string, repartition map[string]topicInfo, count map[string]int32) string {
	var external, fixed []int32
	for _, name := range members {
		if rs, ok := repartition[name]; ok {
			if rs.partitions > 0 {
				fixed = append(fixed, rs.partitions)
			}
			continue
		}
		external = append(external, count[name])
	}
	var want int32
	switch {
	case len(external) > 0:
		want = external[0]
		for _, n := range external[1:] {
			if n != want {
				return fmt.Sprintf("copartitioned topics %s have different partition counts", strings.Join(members, ", "))
			}
		}
	case len(fixed) > 0:
		want = slices.Max(fixed)
	default:
		for _, name := range members {
			want = max(want, count[name])
		}
	}
	for _, name := range members {
		rs, ok := repartition[name]
		if !ok {
			continue
		}
		if rs.partitions > 0 && rs.partitions != want {
			return fmt.Sprintf("repartition topic %s has a fixed %d partitions, but its copartitioned topics have %d", name, rs.partitions, want)
		}
		if want > 0 {
			count[name] = want
		}
	}
	return ""
}

// matchRegex returns the topics a regular expression matches as a whole,
// as Java's Pattern.matches does, sorted.
func matchRegex(re string, names []string) []string {
	r, err := regexp.Compile("^(?:" + re + ")$")
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range names {
		if r.MatchString(n) {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, cmp.Compare[string])
	return out
}
