package segment

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
)

// batches returns about size bytes of record-batch-like data: Kafka v2 batch
// headers around records whose keys and JSON values mix repeated field
// names and vocabulary with random ids and numbers, as real event streams
// do. It is deterministic for a seed, so benchmarks and golden tests are
// repeatable. It also returns the number of batches and records.
func batches(seed uint64, size int) (data []byte, nBatches int32, nRecords int64) {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	events := []string{"page_view", "add_to_cart", "checkout", "login", "search", "click"}
	pages := []string{"/", "/products", "/products/%d", "/cart", "/search?q=shoes", "/account/orders"}
	agents := []string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
		"okhttp/4.12.0",
	}
	ts := int64(1_717_000_000_000)
	for len(data) < size {
		n := 1 + r.IntN(40)
		var recs []byte
		for i := range n {
			key := fmt.Appendf(nil, "user-%d", r.IntN(50_000))
			page := pages[r.IntN(len(pages))]
			if page == "/products/%d" {
				page = fmt.Sprintf(page, r.IntN(10_000))
			}
			value := fmt.Appendf(nil,
				`{"event_id":"%016x%016x","type":%q,"user":%q,"ts":%d,"page":%q,"ua":%q,"amount":%d.%02d,"session":"%08x"}`,
				r.Uint64(), r.Uint64(), events[r.IntN(len(events))], key, ts+int64(i), page,
				agents[r.IntN(len(agents))], r.IntN(500), r.IntN(100), r.Uint32())
			var rec []byte
			rec = append(rec, 0)                     // attributes
			rec = binary.AppendVarint(rec, int64(i)) // timestamp delta
			rec = binary.AppendVarint(rec, int64(i)) // offset delta
			rec = binary.AppendVarint(rec, int64(len(key)))
			rec = append(rec, key...)
			rec = binary.AppendVarint(rec, int64(len(value)))
			rec = append(rec, value...)
			rec = binary.AppendVarint(rec, 1) // one header
			rec = binary.AppendVarint(rec, int64(len("trace")))
			rec = append(rec, "trace"...)
			rec = binary.AppendVarint(rec, 16)
			rec = fmt.Appendf(rec, "%016x", r.Uint64())
			recs = binary.AppendVarint(recs, int64(len(rec)))
			recs = append(recs, rec...)
		}
		// The v2 batch header: baseOffset, length, leader epoch, magic, crc,
		// then the CRC-covered attributes … record count and the records.
		var body []byte
		body = binary.BigEndian.AppendUint16(body, 0)           // attributes: uncompressed
		body = binary.BigEndian.AppendUint32(body, uint32(n-1)) // last offset delta
		body = binary.BigEndian.AppendUint64(body, uint64(ts))
		body = binary.BigEndian.AppendUint64(body, uint64(ts+int64(n-1)))
		body = binary.BigEndian.AppendUint64(body, 4242) // producer id
		body = binary.BigEndian.AppendUint16(body, 0)    // producer epoch
		body = binary.BigEndian.AppendUint32(body, uint32(nRecords))
		body = binary.BigEndian.AppendUint32(body, uint32(n))
		body = append(body, recs...)
		data = binary.BigEndian.AppendUint64(data, 0) // placeholder base offset
		data = binary.BigEndian.AppendUint32(data, uint32(4+1+4+len(body)))
		data = binary.BigEndian.AppendUint32(data, 0) // leader epoch
		data = append(data, 2)                        // magic
		data = binary.BigEndian.AppendUint32(data, crc32.Checksum(body, castagnoli))
		data = append(data, body...)
		ts += int64(n)
		nBatches++
		nRecords += int64(n)
	}
	return data, nBatches, nRecords
}

// noise returns n incompressible bytes, deterministic for a seed: what a
// producer that compressed its own batches sends.
func noise(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, ^seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
