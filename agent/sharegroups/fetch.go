package sharegroups

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
	"github.com/silt-io/silt/recordbatch"
)

// defaultMaxRecords is what a ShareFetch without MaxRecords (v0) acquires
// at most, the Java client's max.poll.records default.
const defaultMaxRecords = 500

// defaultMaxBytes is fetch.max.bytes's default, for a request without one.
const defaultMaxBytes = 52428800

// partAcks are one partition's acknowledgement batches in a request.
type partAcks struct {
	id        [16]byte
	partition int32
	batches   []ackBatch
}

// ackResult is the outcome of one partition's acknowledgements: a code at
// once, or the write that makes them durable.
type ackResult struct {
	id        [16]byte
	partition int32
	code      int16
	durable   <-chan int16
}

func fetchAcks(topics []kmsg.ShareFetchRequestTopic) []partAcks {
	var out []partAcks
	for _, t := range topics {
		for _, p := range t.Partitions {
			if len(p.AcknowledgementBatches) == 0 {
				continue
			}
			pa := partAcks{id: t.TopicID, partition: p.Partition}
			for _, b := range p.AcknowledgementBatches {
				pa.batches = append(pa.batches, ackBatch{first: b.FirstOffset, last: b.LastOffset, types: b.AcknowledgeTypes})
			}
			out = append(out, pa)
		}
	}
	return out
}

func ackAcks(topics []kmsg.ShareAcknowledgeRequestTopic) []partAcks {
	var out []partAcks
	for _, t := range topics {
		for _, p := range t.Partitions {
			pa := partAcks{id: t.TopicID, partition: p.Partition}
			for _, b := range p.AcknowledgementBatches {
				pa.batches = append(pa.batches, ackBatch{first: b.FirstOffset, last: b.LastOffset, types: b.AcknowledgeTypes})
			}
			out = append(out, pa)
		}
	}
	return out
}

// topicName returns the name of the topic with that id.
func (s *Service) topicName(id [16]byte) (string, bool) {
	name, ok := "", false
	s.env.Journal.View(func(js *journal.State) {
		if t := js.TopicByID(journal.TopicID(id)); t != nil {
			name, ok = t.Name, true
		}
	})
	return name, ok
}

// hostedFor returns the share-partition of a request at this agent, or the
// code its response carries.
func (s *Service) hostedFor(ctx context.Context, group string, id [16]byte, partition int32) (*hosted, string, int16) {
	name, ok := s.topicName(id)
	if !ok {
		return nil, "", kerr.UnknownTopicID.Code
	}
	exists := false
	s.env.Journal.View(func(js *journal.State) { exists = js.Partition(name, partition) != nil })
	if !exists {
		return nil, name, kerr.UnknownTopicOrPartition.Code
	}
	if !s.env.OwnsPartition(name, partition) {
		return nil, name, kerr.NotLeaderForPartition.Code
	}
	h, code := s.partition(ctx, spKey{group, name, partition})
	if code == kerr.NotCoordinator.Code {
		code = kerr.NotLeaderForPartition.Code
	}
	return h, name, code
}

// applyAcks applies acknowledgements; renew allows type 4 (KIP-1222).
func (s *Service) applyAcks(ctx context.Context, group, member string, acks []partAcks, set settings, renew bool) []ackResult {
	out := make([]ackResult, 0, len(acks))
	for _, pa := range acks {
		res := ackResult{id: pa.id, partition: pa.partition}
		if code := validAcks(pa.batches, renew); code != 0 {
			res.code = code
			out = append(out, res)
			continue
		}
		h, _, code := s.hostedFor(ctx, group, pa.id, pa.partition)
		if code != 0 {
			res.code = code
			out = append(out, res)
			continue
		}
		l := limits{maxLocks: set.maxLocks, deliveryLimit: set.deliveryLimit}
		res.code, res.durable = h.ack(member, pa.batches, l, set.lockDuration)
		out = append(out, res)
	}
	if len(out) > 0 {
		s.wake() // released records may be waited for
	}
	return out
}

// validAcks checks the batches' shape as Kafka does: ascending, disjoint,
// one type or one per offset, known types.
func validAcks(batches []ackBatch, renew bool) int16 {
	prev := int64(-1)
	for _, b := range batches {
		if b.first < 0 || b.last < b.first || b.first <= prev || len(b.types) == 0 ||
			(len(b.types) != 1 && int64(len(b.types)) != b.last-b.first+1) {
			return kerr.InvalidRequest.Code
		}
		for _, t := range b.types {
			if t < ackGap || t > ackReject && !(renew && t == ackRenew) {
				return kerr.InvalidRequest.Code
			}
		}
		prev = b.last
	}
	return 0
}

// settle waits for the acknowledgements' writes; a failed write fails the
// partition's acknowledgement.
func settle(ctx context.Context, acks []ackResult) {
	for i := range acks {
		if acks[i].durable == nil {
			continue
		}
		select {
		case code := <-acks[i].durable:
			if acks[i].code == 0 {
				acks[i].code = code
			}
		case <-ctx.Done():
			if acks[i].code == 0 {
				acks[i].code = kerr.RequestTimedOut.Code
			}
		}
	}
}

// releaseSession releases member's records on the partitions of a closed
// session, where this agent holds them.
func (s *Service) releaseSession(ctx context.Context, group, member string, parts []topicPart, set settings) {
	var waits []<-chan int16
	for _, p := range parts {
		name, ok := s.topicName(p.id)
		if !ok {
			continue
		}
		s.mu.Lock()
		h := s.mu.parts[spKey{group, name, p.partition}]
		s.mu.Unlock()
		if h == nil {
			continue
		}
		if ch := h.releaseMember(member, limits{maxLocks: set.maxLocks, deliveryLimit: set.deliveryLimit}); ch != nil {
			waits = append(waits, ch)
		}
	}
	if len(waits) > 0 {
		s.wake()
	}
	for _, ch := range waits {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// fetched is one partition's part of a ShareFetch response.
//
// A NOT_LEADER_OR_FOLLOWER answer names no leader (CurrentLeader -1/-1,
// no NodeEndpoints), on purpose. Kafka's share consumer keeps the leader
// of each partition of its share session apart from its metadata and
// replaces it only with a hint of a higher leader epoch; silt's leader
// epoch never changes (agent/reader.go), so a hint would be ignored and
// the client would keep fetching from the old owner. Without one it
// forgets the leader it kept, refreshes its metadata and finds the owner.
type fetched struct {
	id      [16]byte
	part    kmsg.ShareFetchResponseTopicPartition
	records int
}

// acquireFrom acquires up to maxRecords records of one partition for
// member and reads them, about maxBytes.
func (s *Service) acquireFrom(ctx context.Context, group, member string, p topicPart, maxRecords, maxBytes int, set settings) fetched {
	sp := newFetchPartition(p.partition)
	h, name, code := s.hostedFor(ctx, group, p.id, p.partition)
	if code != 0 {
		sp.ErrorCode = code
		return fetched{id: p.id, part: sp}
	}
	var logStart, logEnd int64
	s.env.Journal.View(func(js *journal.State) {
		if pp := js.Partition(name, p.partition); pp != nil {
			logStart, logEnd = pp.StartOffset, pp.NextOffset
		}
	})
	l := limits{maxRecords: maxRecords, maxLocks: set.maxLocks, deliveryLimit: set.deliveryLimit}
	spans := h.acquire(member, logStart, logEnd, l, set.lockDuration)
	if len(spans) == 0 {
		return fetched{id: p.id, part: sp}
	}
	want := spans[len(spans)-1].last
	var data []byte
	covered := spans[0].first - 1
	for covered < want && len(data) < maxBytes {
		b, code := s.env.Read(ctx, name, p.partition, covered+1, maxBytes-len(data))
		if code != 0 {
			if len(data) == 0 {
				sp.ErrorCode = code
			}
			break
		}
		last, ok := lastOffset(b)
		if !ok || last <= covered {
			break
		}
		data = append(data, b...)
		covered = last
	}
	if covered < want {
		h.undo(member, spans, covered)
		spans = trim(spans, covered)
	}
	n := 0
	for _, sp2 := range spans {
		ar := kmsg.NewShareFetchResponseTopicPartitionAcquiredRecord()
		ar.FirstOffset, ar.LastOffset, ar.DeliveryCount = sp2.first, sp2.last, sp2.count
		sp.AcquiredRecords = append(sp.AcquiredRecords, ar)
		n += int(sp2.last - sp2.first + 1)
	}
	if n > 0 {
		sp.Records = data
	}
	return fetched{id: p.id, part: sp, records: n}
}

// lastOffset returns the last offset of the last whole batch in b.
func lastOffset(b []byte) (int64, bool) {
	last, ok := int64(0), false
	for len(b) >= recordbatch.HeaderSize {
		h, err := recordbatch.ParseHeader(b)
		if err != nil || h.Size() > len(b) {
			break
		}
		last, ok = h.LastOffset(), true
		b = b[h.Size():]
	}
	return last, ok
}

// trim keeps the spans' offsets up to last.
func trim(spans []span, last int64) []span {
	var out []span
	for _, s := range spans {
		if s.first > last {
			break
		}
		s.last = min(s.last, last)
		out = append(out, s)
	}
	return out
}

func newFetchPartition(partition int32) kmsg.ShareFetchResponseTopicPartition {
	sp := kmsg.NewShareFetchResponseTopicPartition()
	sp.Partition = partition
	sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = -1, -1
	sp.Records = []byte{} // never null: Kafka 4.4's client refuses a null record set
	return sp
}

// Fetch serves ShareFetch: the session's epoch (session.go), the
// piggybacked acknowledgements, then records acquired for the member from
// every partition of the session this agent owns, up to MaxRecords; with
// nothing to give it waits up to MaxWaitMillis for records (new ones or
// released ones). Acknowledgements are answered once durable. conn ends
// when the client's connection closes, which ends a session it opened.
func (s *Service) Fetch(ctx context.Context, r *kmsg.ShareFetchRequest, conn context.Context) *kmsg.ShareFetchResponse {
	resp := r.ResponseKind().(*kmsg.ShareFetchResponse)
	group, member := deref(r.GroupID), deref(r.MemberID)
	if resp.ErrorCode = s.checkIDs(group, member); resp.ErrorCode != 0 {
		return resp
	}
	set := s.settings(group)
	resp.AcquisitionLockTimeoutMillis = int32(set.lockDuration / time.Millisecond)
	b := newFetchBuilder(resp)
	k := sessionKey{group, member}
	renew := r.Version >= 2 && r.IsRenewAck

	if r.ShareSessionEpoch == -1 {
		parts, ok := s.closeSession(k)
		if !ok {
			resp.ErrorCode = kerr.ShareSessionNotFound.Code
			return resp
		}
		acks := s.applyAcks(ctx, group, member, fetchAcks(r.Topics), set, renew)
		s.releaseSession(ctx, group, member, parts, set)
		settle(ctx, acks)
		b.acks(acks)
		return resp
	}
	ss, code := s.openSession(k, r, conn)
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	acks := s.applyAcks(ctx, group, member, fetchAcks(r.Topics), set, renew)
	if renew {
		settle(ctx, acks)
		b.acks(acks)
		s.bumpSession(ss)
		return resp
	}

	maxRecords := int(r.MaxRecords)
	if maxRecords <= 0 {
		maxRecords = defaultMaxRecords
	}
	maxBytes := int(r.MaxBytes)
	if maxBytes <= 0 {
		maxBytes = defaultMaxBytes
	}
	s.mu.Lock()
	parts := make([]topicPart, 0, len(ss.parts))
	for p := range ss.parts {
		parts = append(parts, p)
	}
	fair := int(ss.epoch)
	s.mu.Unlock()

	wait := time.Duration(r.MaxWaitMillis) * time.Millisecond
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	var got []fetched
	for {
		changed, released := s.env.Journal.Changed(), s.releasedCh()
		got = got[:0]
		records, failed := 0, false
		budget := maxBytes
		for i := range parts {
			p := parts[(i+fair)%len(parts)]
			if records >= maxRecords || budget <= 0 {
				break
			}
			f := s.acquireFrom(ctx, group, member, p, maxRecords-records, budget, set)
			records += f.records
			budget -= len(f.part.Records)
			failed = failed || f.part.ErrorCode != 0
			if f.records > 0 || f.part.ErrorCode != 0 {
				got = append(got, f)
			}
		}
		if records > 0 || failed || wait <= 0 || len(parts) == 0 {
			break
		}
		select {
		case <-changed:
		case <-released:
		case <-deadline.C:
			wait = 0
		case <-ctx.Done():
			wait = 0
		}
	}
	settle(ctx, acks)
	s.mu.Lock()
	for _, f := range got {
		b.put(ss, f)
	}
	b.fresh(ss)
	ss.bump()
	s.mu.Unlock()
	b.acks(acks)
	return resp
}

// fetchBuilder assembles a ShareFetch response by topic.
type fetchBuilder struct {
	resp  *kmsg.ShareFetchResponse
	index map[topicPart]*kmsg.ShareFetchResponseTopicPartition
}

func newFetchBuilder(resp *kmsg.ShareFetchResponse) *fetchBuilder {
	return &fetchBuilder{resp: resp, index: map[topicPart]*kmsg.ShareFetchResponseTopicPartition{}}
}

func (b *fetchBuilder) get(id [16]byte, partition int32) *kmsg.ShareFetchResponseTopicPartition {
	k := topicPart{id, partition}
	if p := b.index[k]; p != nil {
		return p
	}
	ti := -1
	for i := range b.resp.Topics {
		if b.resp.Topics[i].TopicID == id {
			ti = i
		}
	}
	if ti < 0 {
		t := kmsg.NewShareFetchResponseTopic()
		t.TopicID = id
		b.resp.Topics = append(b.resp.Topics, t)
		ti = len(b.resp.Topics) - 1
	}
	// Appending may move the slices the index points into: reindex.
	b.resp.Topics[ti].Partitions = append(b.resp.Topics[ti].Partitions, newFetchPartition(partition))
	b.reindex()
	return b.index[k]
}

func (b *fetchBuilder) reindex() {
	for i := range b.resp.Topics {
		t := &b.resp.Topics[i]
		for j := range t.Partitions {
			b.index[topicPart{t.TopicID, t.Partitions[j].Partition}] = &t.Partitions[j]
		}
	}
}

// put copies one partition's fetch result in; the session need not
// name it again unless it failed. Called under Service.mu.
func (b *fetchBuilder) put(ss *session, f fetched) {
	p := b.get(f.id, f.part.Partition)
	acked, ackMsg := p.AcknowledgeErrorCode, p.AcknowledgeErrorMessage
	*p = f.part
	p.AcknowledgeErrorCode, p.AcknowledgeErrorMessage = acked, ackMsg
	k := topicPart{f.id, f.part.Partition}
	if _, ok := ss.parts[k]; ok {
		ss.parts[k] = f.part.ErrorCode != 0
	}
}

// fresh names the session's partitions that the client has not been
// answered for yet (newly added), as Kafka's incremental responses do.
// Called under Service.mu.
func (b *fetchBuilder) fresh(ss *session) {
	for k, needs := range ss.parts {
		if needs {
			b.get(k.id, k.partition)
			ss.parts[k] = false
		}
	}
}

// acks names every acknowledged partition with its outcome: the client
// learns from a partition's presence that its acknowledgements were
// handled.
func (b *fetchBuilder) acks(acks []ackResult) {
	for _, a := range acks {
		b.get(a.id, a.partition).AcknowledgeErrorCode = a.code
	}
}

// checkIDs checks a request's group and member ids as Kafka does: a group
// id, a member id of 1 to 36 characters, and a group that is not of
// another type.
func (s *Service) checkIDs(group, member string) int16 {
	switch {
	case group == "":
		return kerr.InvalidGroupID.Code
	case member == "" || len(member) > 36:
		return kerr.InvalidRequest.Code
	case s.otherType(group):
		return kerr.GroupIDNotFound.Code
	}
	return 0
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
