package txns

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/journal"
)

// fenced gives a client the fencing code its request version knows:
// PRODUCER_FENCED from the version that introduced it (KIP-588), else
// INVALID_PRODUCER_EPOCH.
func fenced(code int16, version, since int16) int16 {
	if code == kerr.ProducerFenced.Code && version < since {
		return kerr.InvalidProducerEpoch.Code
	}
	return code
}

// InitProducerID handles InitProducerId with a transactional id: the id's
// producer id at its next epoch, fencing whoever held the previous one;
// an open transaction is aborted on the way. A producer that names the id
// and epoch it holds (v3+, KIP-360) is fenced unless they are still the
// id's, or were before the last bump (a retry).
func (c *Coordinator) InitProducerID(ctx context.Context, r *kmsg.InitProducerIDRequest) *kmsg.InitProducerIDResponse {
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	timeout := time.Duration(r.TransactionTimeoutMillis) * time.Millisecond
	if r.TransactionTimeoutMillis <= 0 || timeout > c.env.MaxTimeout {
		resp.ErrorCode = kerr.InvalidTransactionTimeout.Code
		return resp
	}
	pid, epoch := int64(-1), int16(-1)
	if r.Version >= 3 {
		pid, epoch = r.ProducerID, r.ProducerEpoch
	}
	var res journal.Result
	resp.ErrorCode = c.act(ctx, *r.TransactionalID, func(claim *journal.GroupClaim) (code int16) {
		res, code = c.submit(ctx, journal.Command{InitTxn: &journal.InitTxn{
			TxnID: *r.TransactionalID, TimeoutMs: r.TransactionTimeoutMillis, ProducerID: pid, Epoch: epoch, Claim: claim,
		}})
		return code
	})
	if resp.ErrorCode == 0 {
		resp.ProducerID, resp.ProducerEpoch = res.FirstProducerID, res.ProducerEpoch
	}
	resp.ErrorCode = fenced(resp.ErrorCode, r.Version, 4)
	return resp
}

// AddPartitions handles AddPartitionsToTxn. v0-3 (clients) add one
// transaction's partitions; v4+ carries several transactions, each of
// which may be VerifyOnly (KIP-890): answered from the state, adding
// nothing.
func (c *Coordinator) AddPartitions(ctx context.Context, r *kmsg.AddPartitionsToTxnRequest) *kmsg.AddPartitionsToTxnResponse {
	resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	if r.Version < 4 {
		topics := make([]kmsg.AddPartitionsToTxnRequestTransactionTopic, len(r.Topics))
		for i, t := range r.Topics {
			topics[i] = kmsg.AddPartitionsToTxnRequestTransactionTopic{Topic: t.Topic, Partitions: t.Partitions}
		}
		codes := c.addPartitions(ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch, false, topics)
		for i, t := range r.Topics {
			st := kmsg.NewAddPartitionsToTxnResponseTopic()
			st.Topic = t.Topic
			for j, p := range t.Partitions {
				sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				sp.Partition, sp.ErrorCode = p, fenced(codes[i][j], r.Version, 2)
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
	for _, tx := range r.Transactions {
		codes := c.addPartitions(ctx, tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly, tx.Topics)
		rt := kmsg.NewAddPartitionsToTxnResponseTransaction()
		rt.TransactionalID = tx.TransactionalID
		for i, t := range tx.Topics {
			st := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
			st.Topic = t.Topic
			for j, p := range t.Partitions {
				sp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
				sp.Partition, sp.ErrorCode = p, codes[i][j]
				st.Partitions = append(st.Partitions, sp)
			}
			rt.Topics = append(rt.Topics, st)
		}
		resp.Transactions = append(resp.Transactions, rt)
	}
	return resp
}

// addPartitions adds (or, verifyOnly, checks) one transaction's
// partitions; it returns a code per partition, by topic.
func (c *Coordinator) addPartitions(ctx context.Context, id string, pid int64, epoch int16, verifyOnly bool, topics []kmsg.AddPartitionsToTxnRequestTransactionTopic) [][]int16 {
	var tps []journal.TopicPartition
	for _, t := range topics {
		for _, p := range t.Partitions {
			tps = append(tps, journal.TopicPartition{Topic: t.Topic, Partition: p})
		}
	}
	flat := make([]int16, len(tps))
	setAll := func(code int16) {
		for i := range flat {
			flat[i] = code
		}
	}
	switch {
	case verifyOnly && !c.env.Owns(id):
		setAll(kerr.NotCoordinator.Code)
	case verifyOnly:
		c.env.Journal.View(func(s *journal.State) {
			t := s.Txn(id)
			code := int16(0)
			switch {
			case t == nil || t.ProducerID != pid:
				code = kerr.InvalidProducerIDMapping.Code
			case t.Epoch != epoch:
				code = kerr.ProducerFenced.Code
			}
			for i, tp := range tps {
				flat[i] = code
				if code == 0 && (t.Status != journal.TxnOngoing || !t.HasPartition(tp.Topic, tp.Partition)) {
					flat[i] = kerr.InvalidTxnState.Code
				}
			}
		})
	default:
		var res journal.Result
		code := c.act(ctx, id, func(claim *journal.GroupClaim) (code int16) {
			res, code = c.submit(ctx, journal.Command{AddTxnPartitions: &journal.AddTxnPartitions{
				TxnID: id, ProducerID: pid, Epoch: epoch, Partitions: tps, Claim: claim,
			}})
			return code
		})
		if code != 0 {
			setAll(code)
		} else {
			copy(flat, res.Partitions)
		}
	}
	out := make([][]int16, len(topics))
	i := 0
	for ti, t := range topics {
		out[ti] = flat[i : i+len(t.Partitions)]
		i += len(t.Partitions)
	}
	return out
}

// AddOffsets handles AddOffsetsToTxn: the group joins the transaction, so
// its TxnOffsetCommits are accepted and complete with it.
func (c *Coordinator) AddOffsets(ctx context.Context, r *kmsg.AddOffsetsToTxnRequest) *kmsg.AddOffsetsToTxnResponse {
	resp := r.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	if r.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	resp.ErrorCode = c.act(ctx, r.TransactionalID, func(claim *journal.GroupClaim) int16 {
		_, code := c.submit(ctx, journal.Command{AddTxnPartitions: &journal.AddTxnPartitions{
			TxnID: r.TransactionalID, ProducerID: r.ProducerID, Epoch: r.ProducerEpoch, Groups: []string{r.Group}, Claim: claim,
		}})
		return code
	})
	resp.ErrorCode = fenced(resp.ErrorCode, r.Version, 2)
	return resp
}

// EndTxn handles EndTxn: the transaction commits or aborts in one journal
// entry (see the package doc). From v5 (KIP-890 part 2) the producer's
// epoch is bumped with every completion and the response carries the new
// one.
func (c *Coordinator) EndTxn(ctx context.Context, r *kmsg.EndTxnRequest) *kmsg.EndTxnResponse {
	resp := r.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	var res journal.Result
	resp.ErrorCode = c.act(ctx, r.TransactionalID, func(claim *journal.GroupClaim) (code int16) {
		res, code = c.submit(ctx, journal.Command{EndTxn: &journal.EndTxn{
			TxnID: r.TransactionalID, ProducerID: r.ProducerID, Epoch: r.ProducerEpoch,
			Commit: r.Commit, Bump: r.Version >= 5, Claim: claim,
		}})
		return code
	})
	if resp.ErrorCode == 0 && r.Version >= 5 {
		resp.ProducerID, resp.ProducerEpoch = res.FirstProducerID, res.ProducerEpoch
	}
	resp.ErrorCode = fenced(resp.ErrorCode, r.Version, 2)
	return resp
}

// CommitOffsets is TxnOffsetCommit's journal half, once the group's
// coordinator has checked the member (check returns its code): the
// offsets are held in the producer's transaction until it completes.
func CommitOffsets(ctx context.Context, submit func(ctx context.Context, cmds ...journal.Command) ([]journal.Result, int16), r *kmsg.TxnOffsetCommitRequest, check func() int16) *kmsg.TxnOffsetCommitResponse {
	resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	cmd := &journal.TxnOffsetCommit{TxnID: r.TransactionalID, Group: r.Group, ProducerID: r.ProducerID, Epoch: r.ProducerEpoch,
		AddGroup: r.Version >= 5} // transaction version 2 sends no AddOffsetsToTxn
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			cmd.Offsets = append(cmd.Offsets, journal.OffsetCommit{
				Topic: t.Topic, Partition: p.Partition, Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, Metadata: deref(p.Metadata),
			})
		}
	}
	code := check()
	var res journal.Result
	if code == 0 {
		var results []journal.Result
		results, code = submit(ctx, journal.Command{TxnOffsetCommit: cmd})
		if code == 0 {
			res = results[0]
		}
	}
	i := 0
	for _, t := range r.Topics {
		st := kmsg.NewTxnOffsetCommitResponseTopic()
		st.Topic = t.Topic
		for _, p := range t.Partitions {
			sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			sp.Partition = p.Partition
			switch {
			case code != 0:
				sp.ErrorCode = code
			case i < len(res.Partitions):
				sp.ErrorCode = res.Partitions[i]
			}
			sp.ErrorCode = fenced(sp.ErrorCode, r.Version, 3)
			st.Partitions = append(st.Partitions, sp)
			i++
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
