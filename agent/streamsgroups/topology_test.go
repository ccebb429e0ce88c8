package streamsgroups

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeTopics is a cluster's topics in memory.
type fakeTopics map[string]int32

func (f fakeTopics) Partitions(t string) (int32, bool) { n, ok := f[t]; return n, ok }
func (f fakeTopics) Names() []string                   { return slices.Sorted(maps.Keys(f)) }

// sub builds a request subtopology.
func sub(id string, sources []string, repSources map[string]int32, sinks []string, changelogs ...string) kmsg.StreamsGroupHeartbeatRequestTopologySubtopology {
	s := kmsg.NewStreamsGroupHeartbeatRequestTopologySubtopology()
	s.SubtopologyID, s.SourceTopics, s.RepartitionSinkTopics = id, sources, sinks
	for _, name := range slices.Sorted(maps.Keys(repSources)) {
		ti := kmsg.NewTopicInfo()
		ti.Topic, ti.NumPartitions = name, repSources[name]
		ti.Configs = []kmsg.TopicInfoConfig{{Key: "cleanup.policy", Value: "delete"}}
		s.RepartitionSourceTopics = append(s.RepartitionSourceTopics, ti)
	}
	for _, c := range changelogs {
		ti := kmsg.NewTopicInfo()
		ti.Topic = c
		ti.Configs = []kmsg.TopicInfoConfig{{Key: "cleanup.policy", Value: "compact"}}
		s.StateChangelogTopics = append(s.StateChangelogTopics, ti)
	}
	return s
}

func topo(subs ...kmsg.StreamsGroupHeartbeatRequestTopologySubtopology) *kmsg.StreamsGroupHeartbeatRequestTopology {
	t := kmsg.NewStreamsGroupHeartbeatRequestTopology()
	t.Subtopologies = subs
	return &t
}

// wordCount is Kafka Streams' word count: subtopology 0 reads the input
// and writes the repartition topic, 1 reads it and counts into a store.
func wordCount() *kmsg.StreamsGroupHeartbeatRequestTopology {
	return topo(
		sub("0", []string{"in"}, nil, []string{"app-by-word-repartition"}),
		sub("1", nil, map[string]int32{"app-by-word-repartition": 0}, nil, "app-counts-changelog"),
	)
}

func TestConfigure(t *testing.T) {
	copart := wordCount()
	copart.Subtopologies = append(copart.Subtopologies, sub("2", []string{"a", "b"}, nil, nil))
	copart.Subtopologies[2].CopartitionGroups = []kmsg.StreamsGroupHeartbeatRequestTopologySubtopologyCopartitionGroup{{SourceTopics: []int16{0, 1}}}
	regex := topo(sub("0", nil, nil, nil, "app-s-changelog"))
	regex.Subtopologies[0].SourceTopicRegex = []string{"orders-.*"}
	fixed := topo(
		sub("0", []string{"in"}, nil, []string{"rep"}),
		sub("1", nil, map[string]int32{"rep": 5}, nil, "cl"),
	)
	chained := topo(
		sub("0", []string{"in"}, nil, []string{"r1"}),
		sub("1", nil, map[string]int32{"r1": 0}, []string{"r2"}),
		sub("2", nil, map[string]int32{"r2": 0}, nil, "cl"),
	)
	for _, tc := range []struct {
		name   string
		t      *kmsg.StreamsGroupHeartbeatRequestTopology
		topics fakeTopics
		status int8 // -1: configured
		detail string
		tasks  map[string]int32
		create map[string]int32
	}{
		{"word count", wordCount(), fakeTopics{"in": 3}, -1, "",
			map[string]int32{"0": 3, "1": 3}, map[string]int32{"app-by-word-repartition": 3, "app-counts-changelog": 3}},
		{"internal topics exist", wordCount(), fakeTopics{"in": 3, "app-by-word-repartition": 3, "app-counts-changelog": 3}, -1, "",
			map[string]int32{"0": 3, "1": 3}, nil},
		{"missing source", wordCount(), fakeTopics{}, statusMissingSourceTopics, "in", nil, nil},
		{"changelog wrongly partitioned", wordCount(), fakeTopics{"in": 3, "app-counts-changelog": 2}, statusIncorrectlyPartitionedTopics, "app-counts-changelog has 2", nil, nil},
		{"copartitioned agree", copart, fakeTopics{"in": 3, "a": 4, "b": 4}, -1, "",
			map[string]int32{"0": 3, "1": 3, "2": 4}, map[string]int32{"app-by-word-repartition": 3, "app-counts-changelog": 3}},
		{"copartitioned differ", copart, fakeTopics{"in": 3, "a": 4, "b": 2}, statusIncorrectlyPartitionedTopics, "different partition counts", nil, nil},
		{"regex", regex, fakeTopics{"orders-eu": 2, "orders-us": 6, "other": 9}, -1, "",
			map[string]int32{"0": 6}, map[string]int32{"app-s-changelog": 6}},
		{"regex matches nothing", regex, fakeTopics{"other": 9}, statusMissingSourceTopics, "orders-.*", nil, nil},
		{"fixed repartition count", fixed, fakeTopics{"in": 3}, -1, "",
			map[string]int32{"0": 3, "1": 5}, map[string]int32{"rep": 5, "cl": 5}},
		{"chained repartition", chained, fakeTopics{"in": 7}, -1, "",
			map[string]int32{"0": 7, "1": 7, "2": 7}, map[string]int32{"r1": 7, "r2": 7, "cl": 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top, err := topologyFrom(tc.t)
			if err != nil {
				t.Fatal(err)
			}
			c := configure(top, tc.topics)
			if tc.status >= 0 {
				if c.status == nil || c.status.StatusCode != tc.status || !strings.Contains(c.status.StatusDetail, tc.detail) {
					t.Fatalf("status %+v, want code %d with %q", c.status, tc.status, tc.detail)
				}
				if c.tasks != nil {
					t.Fatalf("tasks %v for an unconfigured topology", c.tasks)
				}
				return
			}
			if c.status != nil {
				t.Fatalf("status %+v", c.status)
			}
			if !maps.Equal(c.tasks, tc.tasks) {
				t.Fatalf("tasks %v, want %v", c.tasks, tc.tasks)
			}
			create := map[string]int32{}
			for _, nt := range c.create {
				create[nt.Name] = nt.Partitions
				if len(nt.Configs) == 0 {
					t.Errorf("%s created without its configs", nt.Name)
				}
			}
			if len(create) == 0 {
				create = nil
			}
			if !maps.Equal(create, tc.create) {
				t.Fatalf("create %v, want %v", create, tc.create)
			}
		})
	}
}

func TestTopologyRefused(t *testing.T) {
	noSources := topo(sub("0", nil, nil, nil))
	dup := topo(sub("0", []string{"a"}, nil, nil), sub("0", []string{"b"}, nil, nil))
	badIndex := topo(sub("0", []string{"a"}, nil, nil))
	badIndex.Subtopologies[0].CopartitionGroups = []kmsg.StreamsGroupHeartbeatRequestTopologySubtopologyCopartitionGroup{{SourceTopics: []int16{3}}}
	badRegex := topo(sub("0", nil, nil, nil))
	badRegex.Subtopologies[0].SourceTopicRegex = []string{"("}
	for name, tt := range map[string]*kmsg.StreamsGroupHeartbeatRequestTopology{
		"empty": topo(), "no sources": noSources, "duplicate id": dup, "copartition index": badIndex, "bad regex": badRegex,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := topologyFrom(tt); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
