package console

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// objectKinds are the bucket's top-level prefixes (DESIGN.md, "The
// bucket"), in the order the page lists them; anything else is "other".
var objectKinds = []string{"journal", "snapshots", "segments", "export", "other"}

// ObjectKind counts the objects of one kind.
type ObjectKind struct {
	Kind    string `json:"kind"`
	Objects int64  `json:"objects"`
	Bytes   int64  `json:"bytes"`
}

// BucketView is the bucket and cost page.
type BucketView struct {
	Kinds        []ObjectKind `json:"kinds"`
	TotalObjects int64        `json:"total_objects"`
	TotalBytes   int64        `json:"total_bytes"`
	// ListedAt is when the bucket was listed (listings are reused for a
	// while: each costs a LIST request per 1,000 objects).
	ListedAt time.Time `json:"listed_at"`
	Storage  Storage   `json:"storage"`
	// Requests are the cluster's object-store request rates, summed over
	// the agents that answered.
	Requests []RequestRate `json:"requests"`
	Cost     Cost          `json:"cost"`
	// CompactorActivity is the compactor's last work over the agents
	// that answered (the role moves), newest first.
	CompactorActivity []Activity `json:"compactor_activity"`
	Errors            []string   `json:"errors"`
}

// RequestRate is one request type's rate over the cluster.
type RequestRate struct {
	Op string `json:"op"`
	// Now is the rate over the last sample interval, Average since the
	// agents started; Total counts requests since then.
	Now     float64 `json:"per_second_now"`
	Average float64 `json:"per_second_average"`
	Total   float64 `json:"total"`
}

func kindOf(key string) string {
	first, _, _ := strings.Cut(key, "/")
	if slices.Contains(objectKinds, first) {
		return first
	}
	return "other"
}

// list returns the bucket's objects by kind, listing it again once the
// last listing is older than BucketListTTL. Concurrent callers wait for
// one listing.
func (s *Server) list(ctx context.Context) ([]ObjectKind, time.Time, error) {
	s.listing.Lock()
	defer s.listing.Unlock()
	if s.listing.kinds != nil && time.Since(s.listing.at) < s.opts.BucketListTTL {
		return s.listing.kinds, s.listing.at, nil
	}
	counts := map[string]*ObjectKind{}
	for _, k := range objectKinds {
		counts[k] = &ObjectKind{Kind: k}
	}
	for o, err := range s.src.Objects(ctx) {
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("list the bucket: %w", err)
		}
		k := counts[kindOf(o.Key)]
		k.Objects++
		k.Bytes += o.Size
	}
	kinds := make([]ObjectKind, 0, len(objectKinds))
	for _, k := range objectKinds {
		kinds = append(kinds, *counts[k])
	}
	s.listing.kinds, s.listing.at = kinds, time.Now()
	return kinds, s.listing.at, nil
}

func (s *Server) bucketView(r *http.Request) (any, error) {
	kinds, at, err := s.list(r.Context())
	if err != nil {
		return nil, err
	}
	storage, err := s.src.Storage()
	if err != nil {
		return nil, err
	}
	c, err := s.src.Cluster()
	if err != nil {
		return nil, err
	}
	v := BucketView{Kinds: kinds, ListedAt: at, Storage: storage, Errors: []string{}, CompactorActivity: []Activity{}}
	for _, k := range kinds {
		v.TotalObjects += k.Objects
		v.TotalBytes += k.Bytes
	}
	local, err := s.localReport()
	if err != nil {
		return nil, err
	}
	reports := make([]*AgentReport, len(c.Members))
	errs := make([]error, len(c.Members))
	fanOut(c.Members, c.Self, func(i int, m Agent) {
		var rep AgentReport
		if errs[i] = s.peerGet(r.Context(), m.InternalAddr, "/api/v1/agent", nil, &rep); errs[i] == nil {
			reports[i] = &rep
		}
	})
	rates := map[string]*RequestRate{}
	average := map[string]float64{}
	for i, m := range c.Members {
		rep := reports[i]
		if m.Name == c.Self {
			rep = &local
		}
		if rep == nil {
			v.Errors = append(v.Errors, fmt.Sprintf("%s: %v", m.Name, errs[i]))
			continue
		}
		v.CompactorActivity = append(v.CompactorActivity, rep.Status.CompactorActivity...)
		for op, n := range rep.Counters.Requests {
			rr := rates[op]
			if rr == nil {
				rr = &RequestRate{Op: op}
				rates[op] = rr
			}
			rr.Total += n
			rr.Now += rep.Rates.Requests[op]
			rr.Average += rep.AverageRequests[op]
			average[op] += rep.AverageRequests[op]
		}
	}
	for _, op := range slices.Sorted(maps.Keys(rates)) {
		v.Requests = append(v.Requests, *rates[op])
	}
	v.Cost = estimateCost(v.TotalBytes, average)
	sort.SliceStable(v.CompactorActivity, func(i, j int) bool { return v.CompactorActivity[i].Time.After(v.CompactorActivity[j].Time) })
	v.CompactorActivity = v.CompactorActivity[:min(len(v.CompactorActivity), 20)]
	return v, nil
}
