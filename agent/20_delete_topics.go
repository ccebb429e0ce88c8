package agent

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/silt-io/silt/internal/acl"
	"github.com/silt-io/silt/journal"
)

// DeleteTopics (key 20), versions 1-6.
//
// Behavior: deletes each topic, and the group offsets committed for it, in
// one journal entry. Its data becomes garbage for the compactor. v6 may
// name topics by id (UNKNOWN_TOPIC_ID when unknown).
//
// With the authorizer on, each topic needs DELETE (TOPIC_AUTHORIZATION_FAILED).
func handleDeleteTopics(c *conn, req *request) reply {
	r := req.body.(*kmsg.DeleteTopicsRequest)
	return reply{wait: func(ctx context.Context) kmsg.Response {
		a := c.a
		resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
		type named struct {
			name string
			id   [16]byte
		}
		var want []named
		if r.Version >= 6 {
			for _, t := range r.Topics {
				n := named{id: t.TopicID}
				if t.Topic != nil {
					n.name = *t.Topic
				}
				want = append(want, n)
			}
		} else {
			for _, name := range r.TopicNames {
				want = append(want, named{name: name})
			}
		}
		var cmds []journal.Command
		var idx []int
		for _, w := range want {
			st := kmsg.NewDeleteTopicsResponseTopic()
			st.TopicID = w.id
			a.journal.View(func(s *journal.State) {
				if w.name == "" {
					if t := s.TopicByID(journal.TopicID(w.id)); t != nil {
						w.name = t.Name
					}
				}
			})
			switch {
			case w.name == "" && w.id != [16]byte{}:
				st.ErrorCode = kerr.UnknownTopicID.Code
			case !c.authorizedTopic(acl.OpDelete, w.name):
				if w.id == [16]byte{} {
					name := w.name
					st.Topic = &name
				}
				st.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case w.name == "":
				st.ErrorCode = kerr.UnknownTopicID.Code
			default:
				name := w.name
				st.Topic = &name
				cmds = append(cmds, journal.Command{DeleteTopic: &journal.DeleteTopic{Name: name}})
				idx = append(idx, len(resp.Topics))
			}
			resp.Topics = append(resp.Topics, st)
		}
		if len(cmds) > 0 {
			res, code := a.submit(ctx, cmds...)
			for i, ti := range idx {
				st := &resp.Topics[ti]
				if code != 0 {
					st.ErrorCode = code
					continue
				}
				st.ErrorCode = res[i].Code
				if st.ErrorCode == 0 {
					st.TopicID = res[i].TopicID
					a.log.Info("deleted topic", "topic", *st.Topic)
				}
			}
		}
		return resp
	}}
}
