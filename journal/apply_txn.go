package journal

import (
	"math"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Transactions.
//
// A transactional id's coordinator state (Kafka's __transaction_state) is
// part of the journal's state: State.Txns. The coordinator (agent/txns)
// proposes one command per step of a transaction and Apply decides it
// against the state, so whatever the coordinator believes, the journal's
// order is the truth: a producer fenced here is fenced on every agent.
//
//   - InitTxn gives a transactional id its producer id and the next epoch
//     (a new id at the epoch's end), fencing the previous holder. An open
//     transaction is aborted in the same entry (Kafka aborts it first and
//     answers CONCURRENT_TRANSACTIONS until the abort completes).
//   - AddTxnPartitions adds partitions (AddPartitionsToTxn) and groups
//     (AddOffsetsToTxn) to the transaction, beginning it: Empty or Complete*
//     becomes Ongoing.
//   - TxnOffsetCommit holds a group's offsets in the transaction; they
//     reach the group's committed offsets only when it commits.
//   - EndTxn completes the transaction. In one entry it writes a commit or
//     abort marker (a control batch, Kafka's EndTxnMarker) into every
//     partition of the transaction, records each aborted range in its
//     partition's aborted-transaction index, applies or drops the pending
//     offsets, and moves the state to CompleteCommit or CompleteAbort. So a
//     commit is atomic across partitions: Kafka's PrepareCommit and
//     PrepareAbort, which cover its markers' asynchronous writes, are never
//     stored, and no coordinator can die between them and completion.
//
// A marker is a chunk without an object (Chunk.Marker): its bytes are a
// function of the chunk, built by whoever reads it (chunkread), so
// completing a transaction costs no upload however many partitions it
// spans. Rejected: carrying the markers as inline data in the entry, which
// ties completion to the data path (an entry proposed by another agent must
// carry bytes over RPC) for 78 bytes per partition that are fully
// determined by the state.
//
// Produce: a transactional batch is accepted only if its producer's
// transaction is Ongoing at its epoch and holds the partition (commitChunk);
// the first such batch on a partition opens the transaction there
// (Partition.OpenTxns), which holds back the partition's last stable
// offset until the marker.
//
// Transaction version 2 (KIP-890 part 2; ApiVersions advertises
// transaction.version 2): a client sends no AddPartitionsToTxn or
// AddOffsetsToTxn, and the partitions and groups join the transaction with
// the data. A batch from Produce v12+ (Batch.TxnAdd) adds its partition,
// and TxnOffsetCommit v5+ (AddGroup) its group, beginning the transaction
// if it was Empty or Complete*, in the same entry that stores them. Kafka's
// partition leader has to ask the coordinator first (a round trip before
// every new partition's first append); here the state they would both
// consult is this one, so the add costs nothing, and a commit's round
// trips are the data's and EndTxn's.
//
// Every coordinator command carries the coordinator's claim on the
// transactional id (ClaimTxn, like ClaimGroup), refused with
// NOT_COORDINATOR once another agent has claimed it.

// Transaction states, with Kafka's names (DescribeTransactions shows them).
const (
	TxnEmpty          = "Empty"
	TxnOngoing        = "Ongoing"
	TxnPrepareCommit  = "PrepareCommit" // never stored: EndTxn completes at once
	TxnPrepareAbort   = "PrepareAbort"  // never stored
	TxnCompleteCommit = "CompleteCommit"
	TxnCompleteAbort  = "CompleteAbort"
)

// txnExpiryMs is transactional.id.expiration.ms (7 days): the state of a
// transactional id without an open transaction, idle that long, is
// dropped.
const txnExpiryMs = 7 * 24 * 3600 * 1000

// TxnState is one transactional id's coordinator state.
type TxnState struct {
	ProducerID int64 `json:"pid"`
	Epoch      int16 `json:"epoch"`
	// LastProducerID and LastEpoch are the id and epoch before the last
	// bump, so a retried InitProducerId or EndTxn (KIP-360, KIP-890) is
	// recognised; -1 when there was none.
	LastProducerID int64  `json:"last_pid"`
	LastEpoch      int16  `json:"last_epoch"`
	Status         string `json:"status"`
	TimeoutMs      int32  `json:"timeout_ms"`
	// Partitions are the transaction's partitions, sorted.
	Partitions []TopicPartition `json:"parts,omitempty"`
	// Groups are the groups added with AddOffsetsToTxn, sorted.
	Groups []string `json:"groups,omitempty"`
	// Offsets are the offsets committed in the transaction, by group.
	Offsets map[string][]OffsetCommit `json:"offsets,omitempty"`
	// StartTime is when the open transaction began (entry time, ms).
	StartTime  int64 `json:"start,omitempty"`
	LastUpdate int64 `json:"updated"`
}

// HasPartition reports whether the transaction holds a partition.
func (t *TxnState) HasPartition(topic string, partition int32) bool {
	_, ok := slices.BinarySearchFunc(t.Partitions, TopicPartition{topic, partition}, cmpTP)
	return ok
}

func cmpTP(a, b TopicPartition) int {
	switch {
	case a.Topic < b.Topic:
		return -1
	case a.Topic > b.Topic:
		return 1
	}
	return int(a.Partition) - int(b.Partition)
}

// TxnMarker is the control record a completed transaction leaves in each
// of its partitions.
type TxnMarker struct {
	ProducerID int64 `json:"pid"`
	Epoch      int16 `json:"epoch"`
	Commit     bool  `json:"commit,omitempty"`
	Time       int64 `json:"time"` // entry time, the batch's timestamp
}

// MarkerBatchSize is the size of a marker's control batch: the 61-byte
// batch header and one 17-byte record (a 4-byte key, a 6-byte value).
// chunkread builds the bytes; its test checks this figure.
const MarkerBatchSize = 78

// AbortedTxn is one entry of a partition's aborted-transaction index: the
// offsets from a producer's first batch in an aborted transaction to its
// abort marker. A read_committed fetch returns the entries its data
// overlaps, and the client drops that producer's batches in the range.
type AbortedTxn struct {
	ProducerID  int64 `json:"pid"`
	FirstOffset int64 `json:"first"`
	LastOffset  int64 `json:"last"`
}

// LastStable returns the partition's last stable offset: the first offset
// of its earliest open transaction, else the high watermark.
func (p *Partition) LastStable() int64 {
	lso := p.NextOffset
	for _, first := range p.OpenTxns {
		lso = min(lso, first)
	}
	return lso
}

// AbortedIn returns the aborted transactions that overlap [from, to), in
// offset order.
func (p *Partition) AbortedIn(from, to int64) []AbortedTxn {
	var out []AbortedTxn
	for _, a := range p.Aborted {
		if a.LastOffset >= from && a.FirstOffset < to {
			out = append(out, a)
		}
	}
	return out
}

// ClaimTxn makes Coordinator the transactional id's coordinator, with the
// next claim epoch; the result's Claim is the claim made.
type ClaimTxn struct {
	TxnID       string `json:"txn"`
	Coordinator string `json:"coordinator"`
}

// InitTxn is InitProducerId with a transactional id. ProducerID and Epoch
// are what the producer holds (-1 for a new producer; KIP-360). The result
// carries the producer id (FirstProducerID) and epoch (ProducerEpoch).
type InitTxn struct {
	TxnID      string      `json:"txn"`
	TimeoutMs  int32       `json:"timeout_ms"`
	ProducerID int64       `json:"pid"`
	Epoch      int16       `json:"epoch"`
	Claim      *GroupClaim `json:"claim,omitempty"`
}

// AddTxnPartitions adds partitions and groups to the producer's
// transaction. The result's Partitions holds a code per partition, in
// order; Code is set when the whole request failed.
type AddTxnPartitions struct {
	TxnID      string           `json:"txn"`
	ProducerID int64            `json:"pid"`
	Epoch      int16            `json:"epoch"`
	Partitions []TopicPartition `json:"parts,omitempty"`
	Groups     []string         `json:"groups,omitempty"`
	Claim      *GroupClaim      `json:"claim,omitempty"`
}

// TxnOffsetCommit holds offsets for Group in the producer's transaction.
// It is proposed by the group's coordinator, after checking the member,
// so it carries no transaction claim.
type TxnOffsetCommit struct {
	TxnID      string         `json:"txn"`
	Group      string         `json:"group"`
	ProducerID int64          `json:"pid"`
	Epoch      int16          `json:"epoch"`
	Offsets    []OffsetCommit `json:"offsets"`
	// AddGroup adds the group to the transaction, as AddOffsetsToTxn
	// would (TxnOffsetCommit v5+, transaction version 2).
	AddGroup bool `json:"addgroup,omitempty"`
}

// EndTxn completes the producer's transaction. Bump gives the producer the
// next epoch (EndTxn v5, KIP-890 part 2); the result carries the id and
// epoch it holds afterwards. Timeout is the coordinator aborting a
// transaction past its timeout: it applies only if the transaction is
// still the one the coordinator saw (ProducerID, Epoch) and has expired by
// the entry's time, and it bumps the epoch, fencing the producer. Forced
// is an operator's abort (WriteTxnMarkers, from kafka-transactions.sh
// abort): the Ongoing transaction of ProducerID at Epoch is aborted
// whatever its age and the epoch bumped, as a timeout would; a
// transaction that is not Ongoing is left as it is.
type EndTxn struct {
	TxnID      string      `json:"txn"`
	ProducerID int64       `json:"pid"`
	Epoch      int16       `json:"epoch"`
	Commit     bool        `json:"commit,omitempty"`
	Bump       bool        `json:"bump,omitempty"`
	Timeout    bool        `json:"timeout,omitempty"`
	Forced     bool        `json:"forced,omitempty"`
	Claim      *GroupClaim `json:"claim,omitempty"`
}

// Txn returns a transactional id's state, or nil.
func (s *State) Txn(id string) *TxnState { return s.Txns[id] }

// TxnClaim returns the transactional id's latest claim.
func (s *State) TxnClaim(id string) (GroupClaim, bool) {
	c, ok := s.TxnClaims[id]
	return c, ok
}

func (s *State) txnClaimHolds(id string, claim *GroupClaim) bool {
	return claim == nil || s.TxnClaims[id] == *claim
}

func (s *State) claimTxn(c *ClaimTxn) Result {
	if c.TxnID == "" || c.Coordinator == "" {
		return Result{Code: kerr.InvalidRequest.Code}
	}
	claim := GroupClaim{Coordinator: c.Coordinator, Epoch: s.TxnClaims[c.TxnID].Epoch + 1}
	s.TxnClaims[c.TxnID] = claim
	return Result{Claim: &claim}
}

func (s *State) initTxn(c *InitTxn) Result {
	if c.TxnID == "" || c.TimeoutMs <= 0 {
		return Result{Code: kerr.InvalidRequest.Code}
	}
	if !s.txnClaimHolds(c.TxnID, c.Claim) {
		return Result{Code: kerr.NotCoordinator.Code}
	}
	t := s.Txns[c.TxnID]
	if t == nil {
		t = &TxnState{ProducerID: s.NextProducerID, Epoch: 0, LastProducerID: -1, LastEpoch: -1}
		s.NextProducerID++
		s.Txns[c.TxnID] = t
	} else {
		if c.ProducerID >= 0 {
			switch {
			case c.ProducerID == t.ProducerID && c.Epoch == t.Epoch:
			case c.ProducerID == t.LastProducerID && c.Epoch == t.LastEpoch && t.Status != TxnOngoing:
				// A retry of the InitProducerId that bumped: answer it
				// again.
				return Result{FirstProducerID: t.ProducerID, ProducerEpoch: t.Epoch}
			default:
				return Result{Code: kerr.ProducerFenced.Code}
			}
		}
		if t.Status == TxnOngoing {
			s.completeTxn(c.TxnID, t, false)
		}
		s.bumpTxn(t)
	}
	t.Status, t.TimeoutMs, t.LastUpdate, t.StartTime = TxnEmpty, c.TimeoutMs, s.Time, 0
	t.Partitions, t.Groups, t.Offsets = nil, nil, nil
	s.Producers[t.ProducerID] = &Producer{Epoch: t.Epoch, LastSeen: s.Time, TxnID: c.TxnID}
	return Result{FirstProducerID: t.ProducerID, ProducerEpoch: t.Epoch}
}

// bumpTxn moves the producer to its next epoch, or to a new id when the
// epoch is exhausted, and fences the old epoch on every partition.
func (s *State) bumpTxn(t *TxnState) {
	t.LastProducerID, t.LastEpoch = t.ProducerID, t.Epoch
	if t.Epoch >= math.MaxInt16-1 {
		t.ProducerID, t.Epoch = s.NextProducerID, 0
		s.NextProducerID++
	} else {
		t.Epoch++
	}
	txnID := ""
	if p := s.Producers[t.LastProducerID]; p != nil {
		txnID = p.TxnID
	}
	s.Producers[t.ProducerID] = &Producer{Epoch: t.Epoch, LastSeen: s.Time, TxnID: txnID}
}

// checkTxnProducer answers whether a request with this producer id and
// epoch may act on the transaction.
func checkTxnProducer(t *TxnState, pid int64, epoch int16) int16 {
	switch {
	case t == nil || pid != t.ProducerID:
		return kerr.InvalidProducerIDMapping.Code
	case epoch != t.Epoch:
		return kerr.ProducerFenced.Code
	}
	return 0
}

func (s *State) addTxnPartitions(c *AddTxnPartitions) Result {
	res := Result{Partitions: make([]int16, len(c.Partitions))}
	fail := func(code int16) Result {
		res.Code = code
		for i := range res.Partitions {
			res.Partitions[i] = code
		}
		return res
	}
	if !s.txnClaimHolds(c.TxnID, c.Claim) {
		return fail(kerr.NotCoordinator.Code)
	}
	t := s.Txns[c.TxnID]
	if code := checkTxnProducer(t, c.ProducerID, c.Epoch); code != 0 {
		return fail(code)
	}
	bad := false
	for i, tp := range c.Partitions {
		if s.Partition(tp.Topic, tp.Partition) == nil {
			res.Partitions[i], bad = kerr.UnknownTopicOrPartition.Code, true
		}
	}
	if bad {
		// Kafka adds none of them then.
		for i := range res.Partitions {
			if res.Partitions[i] == 0 {
				res.Partitions[i] = kerr.OperationNotAttempted.Code
			}
		}
		return res
	}
	t.begin(s.Time)
	for _, tp := range c.Partitions {
		if i, ok := slices.BinarySearchFunc(t.Partitions, tp, cmpTP); !ok {
			t.Partitions = slices.Insert(t.Partitions, i, tp)
		}
	}
	for _, g := range c.Groups {
		if i, ok := slices.BinarySearch(t.Groups, g); !ok {
			t.Groups = slices.Insert(t.Groups, i, g)
		}
	}
	t.LastUpdate = s.Time
	return res
}

func (s *State) txnOffsetCommit(c *TxnOffsetCommit) Result {
	res := Result{Partitions: make([]int16, len(c.Offsets))}
	t := s.Txns[c.TxnID]
	code := checkTxnProducer(t, c.ProducerID, c.Epoch)
	if code == 0 {
		_, ok := slices.BinarySearch(t.Groups, c.Group)
		switch {
		case t.Status == TxnOngoing && ok:
		case c.AddGroup && t.beginImplicitly(s.Time):
			if i, ok := slices.BinarySearch(t.Groups, c.Group); !ok {
				t.Groups = slices.Insert(t.Groups, i, c.Group)
			}
		default:
			code = kerr.InvalidTxnState.Code
		}
	}
	if code != 0 {
		res.Code = code
		for i := range res.Partitions {
			res.Partitions[i] = code
		}
		return res
	}
	if t.Offsets == nil {
		t.Offsets = map[string][]OffsetCommit{}
	}
	pending := t.Offsets[c.Group]
	for i, o := range c.Offsets {
		if s.Partition(o.Topic, o.Partition) == nil {
			res.Partitions[i] = kerr.UnknownTopicOrPartition.Code
			continue
		}
		j := slices.IndexFunc(pending, func(p OffsetCommit) bool { return p.Topic == o.Topic && p.Partition == o.Partition })
		if j >= 0 {
			pending[j] = o
		} else {
			pending = append(pending, o)
		}
	}
	t.Offsets[c.Group] = pending
	t.LastUpdate = s.Time
	return res
}

func (s *State) endTxn(c *EndTxn) Result {
	if !s.txnClaimHolds(c.TxnID, c.Claim) {
		return Result{Code: kerr.NotCoordinator.Code}
	}
	t := s.Txns[c.TxnID]
	if t == nil {
		return Result{Code: kerr.InvalidProducerIDMapping.Code}
	}
	done := func() Result { return Result{FirstProducerID: t.ProducerID, ProducerEpoch: t.Epoch} }
	completed := TxnCompleteAbort
	if c.Commit {
		completed = TxnCompleteCommit
	}
	// A retry of an EndTxn that bumped the epoch (v5) carries the old one.
	if c.Bump && !c.Timeout && c.ProducerID == t.LastProducerID && c.Epoch == t.LastEpoch && t.Status == completed {
		return done()
	}
	if code := checkTxnProducer(t, c.ProducerID, c.Epoch); code != 0 {
		return Result{Code: code}
	}
	switch {
	case c.Timeout:
		if t.Status != TxnOngoing || s.Time-t.StartTime < int64(t.TimeoutMs) {
			return Result{Code: kerr.InvalidTxnState.Code}
		}
		s.completeTxn(c.TxnID, t, false)
		s.bumpTxn(t)
		return done()
	case c.Forced:
		if t.Status == TxnOngoing {
			s.completeTxn(c.TxnID, t, false)
			s.bumpTxn(t)
		}
		return done()
	case t.Status == completed && !c.Bump:
		return done() // a retry
	case t.Status == TxnOngoing:
	case !c.Commit && c.Bump && (t.Status == TxnEmpty || t.Status == TxnCompleteCommit || t.Status == TxnCompleteAbort):
		// KIP-890: an abort of a transaction that never began: nothing
		// was added since the last completion (with transaction version
		// 2, a produce that failed or is still in flight), so there is
		// nothing to mark, only the epoch to bump, which fences any
		// such produce.
		t.Status = TxnCompleteAbort
		s.bumpTxn(t)
		return done()
	default:
		return Result{Code: kerr.InvalidTxnState.Code}
	}
	s.completeTxn(c.TxnID, t, c.Commit)
	if c.Bump {
		s.bumpTxn(t)
	}
	return done()
}

// completeTxn writes the transaction's markers, settles its offsets and
// moves it to CompleteCommit or CompleteAbort.
func (s *State) completeTxn(id string, t *TxnState, commit bool) {
	for _, tp := range t.Partitions {
		p := s.Partition(tp.Topic, tp.Partition)
		if p == nil {
			continue // deleted since it was added
		}
		at := p.NextOffset
		first, open := p.OpenTxns[t.ProducerID]
		p.Chunks = append(p.Chunks, Chunk{
			RawLen: MarkerBatchSize, BaseOffset: at, NextOffset: at + 1, MaxTimestamp: s.Time, Written: s.Time,
			Marker: &TxnMarker{ProducerID: t.ProducerID, Epoch: t.Epoch, Commit: commit, Time: s.Time},
		})
		p.NextOffset++
		if open {
			delete(p.OpenTxns, t.ProducerID)
			if len(p.OpenTxns) == 0 {
				p.OpenTxns = nil
			}
			if !commit {
				p.Aborted = append(p.Aborted, AbortedTxn{ProducerID: t.ProducerID, FirstOffset: first, LastOffset: at})
			}
		}
	}
	if commit {
		for _, group := range sortedKeys(t.Offsets) {
			s.commitOffsets(&CommitOffsets{Group: group, Offsets: t.Offsets[group]})
		}
	}
	t.Status = TxnCompleteAbort
	if commit {
		t.Status = TxnCompleteCommit
	}
	t.Partitions, t.Groups, t.Offsets, t.LastUpdate = nil, nil, nil, s.Time
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// admitTxnBatch checks a transactional batch about to be committed to a
// partition: its producer's transaction must be Ongoing at the batch's
// epoch and hold the partition. A batch that may add its partition
// (Batch.TxnAdd) adds it, beginning the transaction if need be.
func (s *State) admitTxnBatch(topic string, partition int32, b *Batch) int16 {
	pr := s.Producers[b.ProducerID]
	if pr == nil || pr.TxnID == "" {
		return kerr.InvalidTxnState.Code
	}
	t := s.Txns[pr.TxnID]
	switch {
	case t == nil || t.ProducerID != b.ProducerID:
		return kerr.InvalidTxnState.Code
	case b.ProducerEpoch != t.Epoch:
		return kerr.InvalidProducerEpoch.Code
	case t.Status == TxnOngoing && t.HasPartition(topic, partition):
		return 0
	case !b.TxnAdd || !t.beginImplicitly(s.Time):
		return kerr.InvalidTxnState.Code
	}
	tp := TopicPartition{Topic: topic, Partition: partition}
	if i, ok := slices.BinarySearchFunc(t.Partitions, tp, cmpTP); !ok {
		t.Partitions = slices.Insert(t.Partitions, i, tp)
	}
	t.LastUpdate = s.Time
	return 0
}

// begin makes the transaction Ongoing, starting a new one (with no
// partitions, groups or offsets) unless it already is.
func (t *TxnState) begin(now int64) {
	if t.Status != TxnOngoing {
		t.Status, t.StartTime = TxnOngoing, now
		t.Partitions, t.Groups, t.Offsets = nil, nil, nil
	}
}

// beginImplicitly begins the transaction for a transaction-version-2 add,
// from any state a new transaction may start in, and reports whether it
// is Ongoing.
func (t *TxnState) beginImplicitly(now int64) bool {
	switch t.Status {
	case TxnOngoing, TxnEmpty, TxnCompleteCommit, TxnCompleteAbort:
		t.begin(now)
		return true
	}
	return false
}

// PendingTxnOffset reports whether an open transaction holds an offset for
// the group's partition, which a stable OffsetFetch must wait for
// (UNSTABLE_OFFSET_COMMIT).
func (s *State) PendingTxnOffset(group, topic string, partition int32) bool {
	for _, t := range s.Txns {
		for _, o := range t.Offsets[group] {
			if o.Topic == topic && o.Partition == partition {
				return true
			}
		}
	}
	return false
}

// expireTxns drops the state of transactional ids idle past the expiry
// with no open transaction.
func (s *State) expireTxns() {
	for id, t := range s.Txns {
		if t.Status != TxnOngoing && s.Time-t.LastUpdate > txnExpiryMs {
			delete(s.Txns, id)
			delete(s.TxnClaims, id)
		}
	}
}
