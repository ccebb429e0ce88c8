package recordbatch_test

import (
	"fmt"

	"github.com/silt-io/silt/recordbatch"
)

// The life of a batch in silt: a producer's batch is validated, stored
// with a placeholder offset, given its offsets at fetch time, and decoded
// by compaction or export.
func Example() {
	records := []recordbatch.Record{
		{Timestamp: 1700000000000, Key: []byte("user-1"), Value: []byte("signed up")},
		{Timestamp: 1700000000005, Key: nil, Value: []byte("no key")},
	}
	first, maxTS := recordbatch.TimestampBounds(records)
	batch, err := recordbatch.Encode(recordbatch.Header{
		PartitionLeaderEpoch: -1, FirstTimestamp: first, MaxTimestamp: maxTS, ProducerID: -1, BaseSequence: -1,
	}, records, recordbatch.CodecZstd)
	if err != nil {
		panic(err)
	}

	// Produce: check it as a broker would.
	h, err := recordbatch.Validate(batch)
	fmt.Println("valid:", err == nil, "records:", h.NumRecords, "codec:", h.Codec())

	// Fetch: the journal committed the chunk at offset 41, in epoch 3.
	chunk, next, err := recordbatch.Patch(batch, 41, 3, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("next offset:", next)

	// Compaction, export, silt cat: decode.
	for b, err := range recordbatch.Iterate(chunk) {
		if err != nil {
			panic(err)
		}
		rs, err := recordbatch.Records(b.Bytes, 1<<20)
		if err != nil {
			panic(err)
		}
		for _, r := range rs {
			fmt.Printf("offset %d key %q (null %v) value %q\n", r.Offset, r.Key, r.Key == nil, r.Value)
		}
	}
	// Output:
	// valid: true records: 2 codec: zstd
	// next offset: 43
	// offset 41 key "user-1" (null false) value "signed up"
	// offset 42 key "" (null true) value "no key"
}
