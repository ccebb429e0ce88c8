package sharegroups

import (
	"context"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Share sessions (KIP-932), like fetch sessions: a member's ShareFetch
// with epoch 0 opens a session on this agent holding the partitions it
// names; later requests carry the next epoch and only the changes
// (partitions added, ForgottenTopicsData removed); epoch -1 closes it,
// releasing the member's records here. ShareAcknowledge uses the same
// session and epoch. A session belongs to the connection that opened it:
// when the connection closes, the session goes and the member's records
// here are released at once, as Kafka's broker does, rather than when
// their locks run out. Sessions live in the agent's memory: a restarted
// or new owner answers SHARE_SESSION_NOT_FOUND and the client opens
// another.

type sessionKey struct{ group, member string }

type topicPart struct {
	id        [16]byte
	partition int32
}

type session struct {
	epoch int32 // the epoch the next request must carry
	// parts maps the session's partitions to whether the next response
	// must name them even without data (newly added).
	parts map[topicPart]bool
	// unwatch stops watching the connection that opened the session.
	unwatch func() bool
}

// maxSessions is group.share.max.share.sessions, Kafka's default.
const maxSessions = 2000

func (ss *session) bump() {
	if ss.epoch == math.MaxInt32 {
		ss.epoch = 1
		return
	}
	ss.epoch++
}

func addParts(ss *session, topics []kmsg.ShareFetchRequestTopic) {
	for _, t := range topics {
		for _, p := range t.Partitions {
			k := topicPart{t.TopicID, p.Partition}
			if _, ok := ss.parts[k]; !ok {
				ss.parts[k] = true
			}
		}
	}
}

// openSession handles a ShareFetch's session epoch: it returns the
// session to serve (nil with a code if refused). Epoch -1 is handled by
// the caller. conn ends when the client's connection closes.
func (s *Service) openSession(k sessionKey, r *kmsg.ShareFetchRequest, conn context.Context) (*session, int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.ShareSessionEpoch == 0 {
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				if len(p.AcknowledgementBatches) > 0 {
					return nil, kerr.InvalidRequest.Code // nothing to acknowledge in a new session
				}
			}
		}
		if old := s.mu.sessions[k]; old != nil {
			old.unwatch()
			delete(s.mu.sessions, k)
		}
		if len(s.mu.sessions) >= maxSessions {
			return nil, kerr.ShareSessionLimitReached.Code
		}
		ss := &session{parts: map[topicPart]bool{}}
		addParts(ss, r.Topics)
		s.mu.sessions[k] = ss
		ss.unwatch = context.AfterFunc(conn, func() { s.connClosed(k, ss) })
		return ss, 0
	}
	ss := s.mu.sessions[k]
	if ss == nil {
		return nil, kerr.ShareSessionNotFound.Code
	}
	if ss.epoch != r.ShareSessionEpoch {
		return nil, kerr.InvalidShareSessionEpoch.Code
	}
	addParts(ss, r.Topics)
	for _, f := range r.ForgottenTopicsData {
		for _, p := range f.Partitions {
			delete(ss.parts, topicPart{f.TopicID, p})
		}
	}
	return ss, 0
}

// checkSession validates a ShareAcknowledge's epoch against the session.
func (s *Service) checkSession(k sessionKey, epoch int32) (*session, int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.mu.sessions[k]
	switch {
	case epoch == 0:
		return nil, kerr.InvalidShareSessionEpoch.Code
	case ss == nil:
		return nil, kerr.ShareSessionNotFound.Code
	case epoch != -1 && epoch != ss.epoch:
		return nil, kerr.InvalidShareSessionEpoch.Code
	}
	return ss, 0
}

// closeSession removes the session and returns its partitions.
func (s *Service) closeSession(k sessionKey) ([]topicPart, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.mu.sessions[k]
	if ss == nil {
		return nil, false
	}
	ss.unwatch()
	delete(s.mu.sessions, k)
	out := make([]topicPart, 0, len(ss.parts))
	for p := range ss.parts {
		out = append(out, p)
	}
	return out, true
}

// connClosed ends a session whose connection closed, releasing what the
// member holds here.
func (s *Service) connClosed(k sessionKey, ss *session) {
	s.mu.Lock()
	if s.mu.closed || s.mu.sessions[k] != ss {
		s.mu.Unlock()
		return
	}
	delete(s.mu.sessions, k)
	parts := make([]topicPart, 0, len(ss.parts))
	for p := range ss.parts {
		parts = append(parts, p)
	}
	s.wg.Add(1) // under mu: Close has not begun waiting
	s.mu.Unlock()
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(s.ctx, s.env.CommitTimeout)
	defer cancel()
	s.releaseSession(ctx, k.group, k.member, parts, s.settings(k.group))
}

func (s *Service) bumpSession(ss *session) {
	s.mu.Lock()
	ss.bump()
	s.mu.Unlock()
}
