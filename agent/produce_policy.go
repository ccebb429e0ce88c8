package agent

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/recordbatch"
)

// appendPolicy is what a topic's configs ask of the produce path beyond
// the checks every batch gets (validateProduce), applied as a Kafka broker
// applies them when it appends:
//
//   - a compacted topic (cleanup.policy contains compact) refuses records
//     without a key: INVALID_RECORD, each such record named in
//     record_errors;
//   - with message.timestamp.type=CreateTime, a record whose timestamp is
//     more than message.timestamp.before.max.ms before the agent's clock
//     or more than message.timestamp.after.max.ms after it is refused:
//     INVALID_TIMESTAMP, with record_errors;
//   - with compression.type other than producer, a batch in another codec
//     is decoded and encoded again in the topic's, at its
//     compression.*.level;
//   - with message.timestamp.type=LogAppendTime, each batch is stamped with
//     the append time: the timestamp-type attribute and MaxTimestamp, which
//     then stands for every record's timestamp, and a new CRC.
//
// A refused batch fails its whole partition in the request, as on Kafka.
// The records are decoded only when a rule needs them: a compacted topic,
// recompression, a before bound, or a batch past the after bound.
type appendPolicy struct {
	compacted     bool
	logAppendTime bool
	// beforeMaxMs and afterMaxMs bound CreateTime timestamps around the
	// agent's clock; math.MaxInt64 is no bound.
	beforeMaxMs, afterMaxMs int64
	// codec is the topic's compression.type; recompress is false for
	// producer.
	codec      recordbatch.Codec
	recompress bool
	levels     recordbatch.Levels
}

// topicPolicy reads a topic's append policy from its configs (the broker's
// defaults where unset). The values were validated when they were set.
func (a *Agent) topicPolicy(configs map[string]string) appendPolicy {
	num := func(key string, def int64) int64 {
		n, err := strconv.ParseInt(a.topicConfigValue(configs, key), 10, 64)
		if err != nil {
			return def
		}
		return n
	}
	p := appendPolicy{
		logAppendTime: a.topicConfigValue(configs, "message.timestamp.type") == "LogAppendTime",
		beforeMaxMs:   num("message.timestamp.before.max.ms", math.MaxInt64),
		afterMaxMs:    num("message.timestamp.after.max.ms", math.MaxInt64),
		levels: recordbatch.Levels{
			Gzip: int(num("compression.gzip.level", int64(recordbatch.DefaultLevels.Gzip))),
			LZ4:  int(num("compression.lz4.level", int64(recordbatch.DefaultLevels.LZ4))),
			Zstd: int(num("compression.zstd.level", int64(recordbatch.DefaultLevels.Zstd))),
		},
	}
	for _, v := range strings.Split(a.topicConfigValue(configs, "cleanup.policy"), ",") {
		p.compacted = p.compacted || strings.TrimSpace(v) == "compact"
	}
	if c, ok := topicCodecs[a.topicConfigValue(configs, "compression.type")]; ok {
		p.codec, p.recompress = c, true
	}
	return p
}

// topicCodecs maps compression.type values to codecs; producer is absent.
var topicCodecs = map[string]recordbatch.Codec{
	"uncompressed": recordbatch.CodecNone,
	"gzip":         recordbatch.CodecGzip,
	"snappy":       recordbatch.CodecSnappy,
	"lz4":          recordbatch.CodecLZ4,
	"zstd":         recordbatch.CodecZstd,
}

// maxPolicyDecode bounds the decoded records section of one batch the
// policy reads: a compressed batch under max.message.bytes may expand far
// beyond it.
const maxPolicyDecode = 64 << 20

// apply checks and rewrites a partition's validated batches in place;
// now is the append time (unix ms). On refusal nothing is appended.
func (p appendPolicy) apply(batches [][]byte, headers []recordbatch.Header, now int64) error {
	earliest, latest := int64(math.MinInt64), int64(math.MaxInt64)
	if p.beforeMaxMs < now {
		earliest = now - p.beforeMaxMs
	}
	if p.afterMaxMs < math.MaxInt64-now {
		latest = now + p.afterMaxMs
	}
	checkTimes := !p.logAppendTime && (earliest != math.MinInt64 || latest != math.MaxInt64)
	for i, b := range batches {
		h := headers[i]
		recompress := p.recompress && h.Codec() != p.codec
		if !p.compacted && !recompress && (!checkTimes || earliest == math.MinInt64 && h.MaxTimestamp <= latest) {
			if p.logAppendTime {
				recordbatch.SetLogAppendTime(b, now)
				headers[i], _ = recordbatch.ParseHeader(b)
			}
			continue
		}
		recs, err := recordbatch.Records(b, maxPolicyDecode)
		if err != nil {
			return &produceError{batchCode(err), fmt.Errorf("batch %d: %w", i, err)}
		}
		if p.compacted {
			if err := refuseRecords(recs, kerr.InvalidRecord.Code, func(r recordbatch.Record) string {
				if r.Key == nil {
					return "Compacted topic cannot accept message without key."
				}
				return ""
			}); err != nil {
				return err
			}
		}
		if checkTimes && h.TimestampType() == 0 {
			if err := refuseRecords(recs, kerr.InvalidTimestamp.Code, func(r recordbatch.Record) string {
				if r.Timestamp < 0 || (r.Timestamp >= earliest && r.Timestamp <= latest) {
					return "" // -1 is "no timestamp", which Kafka lets through
				}
				return fmt.Sprintf("Timestamp %d of message with offset %d is out of range. The timestamp should be within [%d, %d]",
					r.Timestamp, r.OffsetDelta, earliest, latest)
			}); err != nil {
				return err
			}
		}
		if recompress {
			if b, err = recordbatch.EncodeLevels(h, recs, p.codec, p.levels); err != nil {
				return &produceError{kerr.CorruptMessage.Code, fmt.Errorf("recompress batch %d to %v: %w", i, p.codec, err)}
			}
			batches[i] = b
		}
		if p.logAppendTime {
			recordbatch.SetLogAppendTime(b, now)
		}
		headers[i], _ = recordbatch.ParseHeader(b)
	}
	return nil
}

// refuseRecords returns a produceError with code naming every record that
// bad finds fault with, or nil. The message follows Kafka's.
func refuseRecords(recs []recordbatch.Record, code int16, bad func(recordbatch.Record) string) error {
	var errs []kmsg.ProduceResponseTopicPartitionErrorRecord
	for i, r := range recs {
		if msg := bad(r); msg != "" {
			er := kmsg.NewProduceResponseTopicPartitionErrorRecord()
			er.RelativeOffset, er.ErrorMessage = int32(i), &msg
			errs = append(errs, er)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	first := make([]string, 0, 3)
	for _, e := range errs[:min(3, len(errs))] {
		first = append(first, fmt.Sprintf("%d: %s", e.RelativeOffset, *e.ErrorMessage))
	}
	return &recordsError{records: errs, produceError: &produceError{code, fmt.Errorf(
		"One or more records have been rejected due to %d record errors in total, and only showing the first three errors at most: [%s]",
		len(errs), strings.Join(first, "; "))}}
}

// recordsError is a produceError that names the records at fault.
type recordsError struct {
	*produceError
	records []kmsg.ProduceResponseTopicPartitionErrorRecord
}

// Unwrap gives errors.As the produceError.
func (e *recordsError) Unwrap() error { return e.produceError }

// errorRecords returns the records a produce error names (record_errors,
// Produce v8+), or nil.
func errorRecords(err error) []kmsg.ProduceResponseTopicPartitionErrorRecord {
	var re *recordsError
	if errors.As(err, &re) {
		return re.records
	}
	return nil
}
