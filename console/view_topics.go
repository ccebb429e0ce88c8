package console

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Paging of the topic list: 10,000 topics are shown a page at a time.
const (
	defaultPerPage = 50
	maxPerPage     = 1000
)

// TopicsView is the topic list: one page of the topics whose names contain
// the query.
type TopicsView struct {
	Query   string `json:"query"`
	Page    int    `json:"page"`
	PerPage int    `json:"per_page"`
	Pages   int    `json:"pages"`
	// Total counts the topics matching the query; All every topic.
	Total  int        `json:"total"`
	All    int        `json:"all"`
	Topics []TopicRow `json:"topics"`
}

// TopicRow is one topic in the list with its rates' history (records per
// second, oldest first): written, and committed by consumer groups.
type TopicRow struct {
	Topic
	Produced []float64 `json:"produced_per_second"`
	Consumed []float64 `json:"consumed_per_second"`
}

// intParam parses an optional integer query parameter within [lo, hi].
func intParam(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, badRequest("%s=%q: want a whole number from %d to %d", name, clip(s), lo, hi)
	}
	return v, nil
}

// clip shortens what a request sent for an error message.
func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func (s *Server) topicsView(r *http.Request) (any, error) {
	q := r.URL.Query().Get("q")
	if !utf8.ValidString(q) {
		return nil, badRequest("the search q is not valid UTF-8")
	}
	page, err := intParam(r, "page", 1, 1, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	per, err := intParam(r, "per_page", defaultPerPage, 1, maxPerPage)
	if err != nil {
		return nil, err
	}
	all, err := s.src.Topics()
	if err != nil {
		return nil, err
	}
	v := TopicsView{Query: q, Page: int(page), PerPage: int(per), All: len(all), Topics: []TopicRow{}}
	var match []Topic
	for _, t := range all {
		if q == "" || strings.Contains(strings.ToLower(t.Name), strings.ToLower(q)) {
			match = append(match, t)
		}
	}
	v.Total = len(match)
	v.Pages = max(1, (v.Total+v.PerPage-1)/v.PerPage)
	from := min((v.Page-1)*v.PerPage, len(match))
	to := min(from+v.PerPage, len(match))
	for _, t := range match[from:to] {
		p, c := s.sampler.topic(t.Name)
		v.Topics = append(v.Topics, TopicRow{Topic: t, Produced: p, Consumed: c})
	}
	return v, nil
}

// validTopic checks a topic name from a URL as Kafka would: Kafka's legal
// characters, at most 249 of them.
func validTopic(name string) error {
	if !utf8.ValidString(name) {
		return badRequest("the topic name is not valid UTF-8")
	}
	if name == "" || len(name) > 249 || name == "." || name == ".." {
		return badRequest("%q is not a valid topic name", clip(name))
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return badRequest("%q is not a valid topic name: Kafka topic names hold only letters, digits, '.', '_' and '-'", clip(name))
		}
	}
	return nil
}

// TopicView is a topic's page: its partitions, rates and the groups that
// consume it.
type TopicView struct {
	TopicDetail
	Produced []float64     `json:"produced_per_second"`
	Consumed []float64     `json:"consumed_per_second"`
	Groups   []GroupOffset `json:"group_offsets"`
}

func (s *Server) topicView(r *http.Request) (any, error) {
	name := r.PathValue("topic")
	if err := validTopic(name); err != nil {
		return nil, err
	}
	t, err := s.src.Topic(name)
	if err != nil {
		return nil, err
	}
	v := TopicView{TopicDetail: t, Groups: []GroupOffset{}}
	v.Produced, v.Consumed = s.sampler.topic(name)
	offsets, err := s.src.GroupOffsets()
	if err != nil {
		return nil, err
	}
	for _, o := range offsets {
		if o.Topic == name {
			v.Groups = append(v.Groups, o)
		}
	}
	return v, nil
}
