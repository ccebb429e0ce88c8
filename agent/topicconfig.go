package agent

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// configType is the type of a topic config value, as DescribeConfigs v3+
// reports it and as validation checks it.
type configType int8

// Config types, numbered as Kafka's DescribeConfigs reports them.
const (
	typeBoolean configType = 1
	typeString  configType = 2
	typeInt     configType = 3
	typeLong    configType = 5
	typeDouble  configType = 6
	typeList    configType = 7
)

// topicConfig describes one topic config key: its type, Kafka's default,
// the values allowed, and whether silt acts on it.
type topicConfig struct {
	typ configType
	def string
	// allowed lists the permitted values of an enumerated config; for a
	// list config, of each element.
	allowed []string
	// min is the smallest permitted numeric value, max (when not 0) the
	// largest; not lists values between them that are not permitted.
	min, max int64
	not      []int64
	// doc says what silt does with the config.
	doc string
}

// topicConfigs holds every topic config silt accepts, with Kafka's
// defaults. Configs that only tune Kafka's local log files are accepted
// and described, so that tools and frameworks that set them (Kafka Streams
// sets segment.bytes, for one) work, but they change nothing here; their
// doc says so. An unknown key is refused with INVALID_CONFIG, as Kafka does.
var topicConfigs = map[string]topicConfig{
	"cleanup.policy":                          {typ: typeList, def: "delete", allowed: []string{"delete", "compact"}, doc: "delete: retention by time and size; compact: the compactor keeps the latest record per key"},
	"retention.ms":                            {typ: typeLong, def: "604800000", min: -1, doc: "records older than this are deleted by the compactor; -1 keeps them forever"},
	"retention.bytes":                         {typ: typeLong, def: "-1", min: -1, doc: "a partition larger than this has its oldest records deleted by the compactor; -1 means no limit"},
	"max.message.bytes":                       {typ: typeInt, def: "1048588", min: 0, doc: "the largest record batch a producer may send"},
	"delete.retention.ms":                     {typ: typeLong, def: "86400000", min: 0, doc: "how long tombstones are kept in a compacted topic"},
	"min.compaction.lag.ms":                   {typ: typeLong, def: "0", min: 0, doc: "records younger than this are not compacted"},
	"max.compaction.lag.ms":                   {typ: typeLong, def: "9223372036854775807", min: 1, doc: "a compacted topic's dirty records are cleaned within this long, whatever min.cleanable.dirty.ratio says"},
	"message.timestamp.type":                  {typ: typeString, def: "CreateTime", allowed: []string{"CreateTime", "LogAppendTime"}, doc: "CreateTime keeps the producer's timestamps; LogAppendTime stamps each batch with the agent's clock when it is appended"},
	"compression.type":                        {typ: typeString, def: "producer", allowed: []string{"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"}, doc: "producer stores batches as produced (uncompressed chunks are zstd-compressed in the bucket); a codec recompresses batches in other codecs when they are appended"},
	"compression.gzip.level":                  {typ: typeInt, def: "-1", min: -1, max: 9, not: []int64{0}, doc: "the gzip level of batches recompressed to compression.type=gzip; -1 is the library default"},
	"compression.lz4.level":                   {typ: typeInt, def: "9", min: 1, max: 17, doc: "the lz4 level of batches recompressed to compression.type=lz4 (1 and 2: fast mode; above 9: level 9)"},
	"compression.zstd.level":                  {typ: typeInt, def: "3", min: -131072, max: 22, doc: "the zstd level of batches recompressed to compression.type=zstd"},
	"min.insync.replicas":                     {typ: typeInt, def: "1", min: 1, doc: "accepted; every acknowledged write is already durable in the object store"},
	"unclean.leader.election.enable":          {typ: typeBoolean, def: "false", doc: "accepted; silt has no replicas to elect"},
	"segment.bytes":                           {typ: typeInt, def: "1073741824", min: 14, doc: "in a compacted topic, the newest records under this size count as the active segment, which is not cleaned (the agent's flush settings cut the objects)"},
	"segment.ms":                              {typ: typeLong, def: "604800000", min: 1, doc: "in a compacted topic, records become cleanable this long after they were committed (or after the compactor's merge window, if shorter)"},
	"segment.index.bytes":                     {typ: typeInt, def: "10485760", min: 4, doc: "accepted; no local index files"},
	"segment.jitter.ms":                       {typ: typeLong, def: "0", min: 0, doc: "accepted; no local segments"},
	"index.interval.bytes":                    {typ: typeInt, def: "4096", min: 0, doc: "accepted; no local index files"},
	"file.delete.delay.ms":                    {typ: typeLong, def: "60000", min: 0, doc: "accepted; no local files"},
	"flush.messages":                          {typ: typeLong, def: "9223372036854775807", min: 1, doc: "accepted; every acknowledged write is in the object store"},
	"flush.ms":                                {typ: typeLong, def: "9223372036854775807", min: 0, doc: "accepted; every acknowledged write is in the object store"},
	"min.cleanable.dirty.ratio":               {typ: typeDouble, def: "0.5", doc: "a compacted topic is cleaned once its records not yet cleaned are this share of its cleanable bytes"},
	"preallocate":                             {typ: typeBoolean, def: "false", doc: "accepted; no local files"},
	"message.timestamp.difference.max.ms":     {typ: typeLong, def: "9223372036854775807", min: 0, doc: "accepted; not enforced"},
	"message.timestamp.before.max.ms":         {typ: typeLong, def: "9223372036854775807", min: 0, doc: "with CreateTime, a record more than this before the agent's clock is refused (INVALID_TIMESTAMP)"},
	"message.timestamp.after.max.ms":          {typ: typeLong, def: "3600000", min: 0, doc: "with CreateTime, a record more than this after the agent's clock is refused (INVALID_TIMESTAMP)"},
	"message.downconversion.enable":           {typ: typeBoolean, def: "true", doc: "accepted; only record batch v2 is served"},
	"leader.replication.throttled.replicas":   {typ: typeList, def: "", doc: "accepted; silt does not replicate"},
	"follower.replication.throttled.replicas": {typ: typeList, def: "", doc: "accepted; silt does not replicate"},
	"remote.storage.enable":                   {typ: typeBoolean, def: "false", doc: "accepted; all storage is remote"},
	"local.retention.ms":                      {typ: typeLong, def: "-2", min: -2, doc: "accepted; no local log"},
	"local.retention.bytes":                   {typ: typeLong, def: "-2", min: -2, doc: "accepted; no local log"},
	"silt.export":                             {typ: typeString, def: "", allowed: []string{"", "none", "parquet"}, doc: "parquet: the compactor exports the topic to Parquet under export/"},
	"silt.export.interval.ms":                 {typ: typeLong, def: "60000", min: 1000, doc: "how stale the Parquet export may become"},
}

// validateTopicConfig checks one value; it returns a message for
// INVALID_CONFIG, or "".
func validateTopicConfig(key, value string) string {
	c, ok := topicConfigs[key]
	if !ok {
		return fmt.Sprintf("unknown topic config %q", key)
	}
	bad := func(why string) string { return fmt.Sprintf("invalid value %q for %s: %s", value, key, why) }
	switch c.typ {
	case typeBoolean:
		if value != "true" && value != "false" {
			return bad("want true or false")
		}
	case typeInt, typeLong:
		bits := 64
		if c.typ == typeInt {
			bits = 32
		}
		n, err := strconv.ParseInt(value, 10, bits)
		if err != nil {
			return bad("not an integer")
		}
		if n < c.min {
			return bad(fmt.Sprintf("below the minimum %d", c.min))
		}
		if (c.max != 0 && n > c.max) || slices.Contains(c.not, n) {
			return bad(fmt.Sprintf("allowed: %d to %d, except %v", c.min, c.max, c.not))
		}
	case typeDouble:
		if _, err := strconv.ParseFloat(value, 64); err != nil {
			return bad("not a number")
		}
	case typeList:
		if c.allowed != nil {
			for _, v := range strings.Split(value, ",") {
				if !slices.Contains(c.allowed, strings.TrimSpace(v)) {
					return bad(fmt.Sprintf("allowed: %s", strings.Join(c.allowed, ", ")))
				}
			}
		}
	case typeString:
		if c.allowed != nil && !slices.Contains(c.allowed, value) {
			return bad(fmt.Sprintf("allowed: %s", strings.Join(c.allowed, ", ")))
		}
	}
	return ""
}

// topicConfigValue returns a topic's effective value of key: its own if
// set, else the broker's default.
func (a *Agent) topicConfigValue(configs map[string]string, key string) string {
	if v, ok := configs[key]; ok {
		return v
	}
	if key == "max.message.bytes" {
		return strconv.Itoa(int(a.cfg.MessageMaxBytes))
	}
	return topicConfigs[key].def
}

// describeTopicConfigs lists a topic's configs for DescribeConfigs: every
// known key, or those asked for.
func (a *Agent) describeTopicConfigs(configs map[string]string, keys []string, synonyms, docs bool) ([]kmsg.DescribeConfigsResponseResourceConfig, string) {
	if keys == nil {
		for k := range topicConfigs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
	}
	var out []kmsg.DescribeConfigsResponseResourceConfig
	for _, k := range keys {
		c, ok := topicConfigs[k]
		if !ok {
			continue // Kafka leaves unknown names out
		}
		rc := kmsg.NewDescribeConfigsResponseResourceConfig()
		rc.Name = k
		v, set := configs[k]
		if !set {
			v = a.topicConfigValue(nil, k)
		}
		rc.Value = &v
		rc.Source = kmsg.ConfigSourceDefaultConfig
		if set {
			rc.Source = kmsg.ConfigSourceDynamicTopicConfig
		} else if k == "max.message.bytes" {
			rc.Source = kmsg.ConfigSourceStaticBrokerConfig
		}
		rc.IsDefault = !set
		rc.ConfigType = kmsg.ConfigType(c.typ)
		if synonyms {
			syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			syn.Name, syn.Value, syn.Source = k, rc.Value, rc.Source
			rc.ConfigSynonyms = append(rc.ConfigSynonyms, syn)
		}
		if docs {
			doc := c.doc
			rc.Documentation = &doc
		}
		out = append(out, rc)
	}
	return out, ""
}
