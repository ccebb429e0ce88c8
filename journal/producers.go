package journal

import "sort"

// ActiveProducer is what DescribeProducers reports of an idempotent
// producer on one partition.
type ActiveProducer struct {
	ID           int64
	Epoch        int16
	LastSequence int32
	// LastSeen is the entry time (ms) of the producer's last write to any
	// partition.
	LastSeen int64
	// TxnStartOffset is the first offset of the producer's open
	// transaction on the partition, or -1.
	TxnStartOffset int64
}

// ActiveProducers returns the producers whose recent batches on a
// partition the state remembers, by id.
func (s *State) ActiveProducers(topic string, partition int32) []ActiveProducer {
	key := partitionKey(topic, partition)
	part := s.Partition(topic, partition)
	var out []ActiveProducer
	for id, p := range s.Producers {
		hist := p.Partitions[key]
		if len(hist) == 0 {
			continue
		}
		ap := ActiveProducer{ID: id, Epoch: p.Epoch, LastSequence: hist[len(hist)-1].LastSeq, LastSeen: p.LastSeen, TxnStartOffset: -1}
		if part != nil {
			if first, open := part.OpenTxns[id]; open {
				ap.TxnStartOffset = first
			}
		}
		out = append(out, ap)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
