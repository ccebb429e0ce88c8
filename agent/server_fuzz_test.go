package agent

import (
	"encoding/binary"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// encodeFrame returns req as parseRequest receives it: a request frame
// without its size prefix, header v1 (v2 for flexible versions).
func encodeFrame(req kmsg.Request, corr int32, clientID string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, uint16(len(clientID)))
	b = append(b, clientID...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	return req.AppendTo(b)
}

// fuzzSeeds returns valid frames of every API the agent serves, at its
// oldest and newest versions, and some with their fields filled in.
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	for _, a := range apis {
		for _, v := range []int16{a.minVersion, a.maxVersion} {
			req := kmsg.RequestForKey(a.key.Int16())
			req.SetVersion(v)
			seeds = append(seeds, encodeFrame(req, 1, "seed"))
		}
	}

	// A batch is opaque to parseRequest; any bytes do.
	produce := kmsg.NewPtrProduceRequest()
	produce.Version, produce.Acks, produce.TimeoutMillis = 9, -1, 1000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "t"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Partition, pp.Records = 3, []byte("not really a record batch")
	pt.Partitions = append(pt.Partitions, pp)
	produce.Topics = append(produce.Topics, pt)

	metadata := kmsg.NewPtrMetadataRequest()
	metadata.Version = 12
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("t")
	metadata.Topics = append(metadata.Topics, mt)

	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version, fetch.MaxWaitMillis, fetch.MinBytes = 13, 500, 1
	ft := kmsg.NewFetchRequestTopic()
	ft.TopicID = [16]byte{1, 2, 3}
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.FetchOffset, fp.PartitionMaxBytes = 42, 1<<20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)

	create := kmsg.NewPtrCreateTopicsRequest()
	create.Version = 5
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "t", 3, 1
	cc := kmsg.NewCreateTopicsRequestTopicConfig()
	cc.Name, cc.Value = "retention.ms", kmsg.StringPtr("1000")
	ct.Configs = append(ct.Configs, cc)
	create.Topics = append(create.Topics, ct)

	alter := kmsg.NewPtrIncrementalAlterConfigsRequest()
	alter.Version = 1
	ar := kmsg.NewIncrementalAlterConfigsRequestResource()
	ar.ResourceType, ar.ResourceName = kmsg.ConfigResourceTypeTopic, "t"
	ac := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	ac.Name, ac.Value = "cleanup.policy", kmsg.StringPtr("compact")
	ar.Configs = append(ar.Configs, ac)
	alter.Resources = append(alter.Resources, ar)

	for _, req := range []kmsg.Request{produce, metadata, fetch, create, alter} {
		seeds = append(seeds, encodeFrame(req, 7, ""))
	}
	// ApiVersions newer than served (answered, not refused), and a
	// flexible header carrying a tagged field, which is skipped.
	newer := kmsg.NewPtrApiVersionsRequest()
	newer.Version = 99
	seeds = append(seeds, encodeFrame(newer, 2, "x"))
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 3
	header := encodeFrame(av, 3, "x")[:8+2+1] // key, version, correlation id, client id
	tagged := slices.Concat(header, []byte{1, 5, 2, 0xaa, 0xbb}, av.AppendTo(nil))
	return append(seeds, tagged)
}

// FuzzParseRequest feeds parseRequest, the decoder of every request frame
// a client sends, arbitrary bytes. It must never panic, and whatever it
// accepts must be a request the API table serves, decoded as that API at
// that version (or ApiVersions at a newer version, which is answered).
func FuzzParseRequest(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		req, err := parseRequest(frame)
		if err != nil {
			if req != nil {
				t.Fatalf("parseRequest returned a request and an error: %v", err)
			}
			return
		}
		if req.body == nil {
			if req.key != kmsg.ApiVersions.Int16() || supported(req.key, req.version) {
				t.Fatalf("no body for key %d v%d", req.key, req.version)
			}
			return
		}
		if !supported(req.key, req.version) {
			t.Fatalf("accepted key %d v%d, which the table does not serve", req.key, req.version)
		}
		if req.body.Key() != req.key || req.body.GetVersion() != req.version {
			t.Fatalf("key %d v%d decoded as key %d v%d", req.key, req.version, req.body.Key(), req.body.GetVersion())
		}
	})
}

// TestFuzzSeedsParse checks that every seed of FuzzParseRequest is a valid
// request, so the fuzzer starts from inputs that reach the body decoders.
func TestFuzzSeedsParse(t *testing.T) {
	for i, s := range fuzzSeeds() {
		if _, err := parseRequest(s); err != nil {
			t.Errorf("seed %d: %v", i, err)
		}
	}
}
