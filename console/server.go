package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure a Server. The zero value is the default.
type Options struct {
	// SampleInterval is the time between two samples of the charts.
	// Default 5s.
	SampleInterval time.Duration
	// History is how many samples each chart keeps. Default 60 (five
	// minutes at the default interval).
	History int
	// BucketListTTL is how long a listing of the bucket is reused: a
	// listing costs a LIST request per 1,000 objects. Default 30s.
	BucketListTTL time.Duration
	// PeerTimeout bounds a call to another agent. Default 2s.
	PeerTimeout time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.SampleInterval <= 0 {
		o.SampleInterval = 5 * time.Second
	}
	if o.History <= 0 {
		o.History = 60
	}
	if o.BucketListTTL <= 0 {
		o.BucketListTTL = 30 * time.Second
	}
	if o.PeerTimeout <= 0 {
		o.PeerTimeout = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Server serves the console's pages and JSON. Create it with New, register
// it on a mux with Register, and run its sampler with Run.
type Server struct {
	src     Source
	opts    Options
	sampler *sampler
	client  *http.Client
	pages   map[string]*pageTemplate
	mux     *http.ServeMux

	// listing caches the last listing of the bucket.
	listing struct {
		sync.Mutex
		at    time.Time
		kinds []ObjectKind
	}
}

// New returns a console reading src.
func New(src Source, opts Options) (*Server, error) {
	opts = opts.withDefaults()
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{
		src: src, opts: opts, pages: pages,
		sampler: newSampler(src, opts.SampleInterval, opts.History),
		client:  &http.Client{Timeout: opts.PeerTimeout},
	}
	s.mux = http.NewServeMux()
	s.routes()
	return s, nil
}

// Register adds the console's routes to mux: /ui, /ui/… and /api/v1/….
func (s *Server) Register(mux *http.ServeMux) {
	mux.Handle("/ui", s)
	mux.Handle("/ui/", s)
	mux.Handle("/api/v1/", s)
}

// ServeHTTP serves the console's routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		r = r.WithContext(context.WithValue(r.Context(), authorizationKey{}, auth))
	}
	s.mux.ServeHTTP(w, r)
}

// authorizationKey keys a request's Authorization header in its context,
// so that what the console asks other agents on the request's behalf
// carries the same credentials through their guard (agent/http_auth.go).
type authorizationKey struct{}

// Run samples the charts' series until ctx ends.
func (s *Server) Run(ctx context.Context) { s.sampler.run(ctx) }

func (s *Server) routes() {
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusFound)
	})
	s.page("GET /ui/{$}", "cluster", s.clusterView)
	s.page("GET /ui/topics", "topics", s.topicsView)
	s.page("GET /ui/topics/{topic}", "topic", s.topicView)
	s.page("GET /ui/topics/{topic}/records", "records", s.recordsView)
	s.page("GET /ui/groups", "groups", s.groupsView)
	s.page("GET /ui/groups/{group...}", "group", s.groupView)
	s.page("GET /ui/bucket", "bucket", s.bucketView)
	s.mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, &httpError{http.StatusNotFound, fmt.Sprintf("no console page at %s", r.URL.Path)})
	})

	s.api("GET /api/v1/cluster", s.clusterView)
	s.api("GET /api/v1/agent", s.agentView)
	s.api("GET /api/v1/topics", s.topicsView)
	s.api("GET /api/v1/topics/{topic}", s.topicView)
	s.api("GET /api/v1/topics/{topic}/partitions/{partition}/records", s.recordsView)
	s.api("GET /api/v1/groups", s.groupsView)
	s.api("GET /api/v1/groups/{group...}", s.groupView)
	s.api("GET /api/v1/bucket", s.bucketView)
	s.mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &httpError{http.StatusNotFound, fmt.Sprintf("no API endpoint %s %s (see the README's console section)", r.Method, r.URL.Path)})
	})
}

// A view builds what a page shows and its endpoint answers.
type view func(r *http.Request) (any, error)

func (s *Server) api(pattern string, v view) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		data, err := v(r)
		if err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(data)
	})
}

// httpError is an error with the HTTP status it answers.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// status returns the HTTP status an error answers.
func status(err error) int {
	var he *httpError
	var oe *OffsetError
	switch {
	case errors.As(err, &he):
		return he.status
	case errors.As(err, &oe):
		return http.StatusRequestedRangeNotSatisfiable
	case errors.Is(err, ErrUnknownTopic), errors.Is(err, errUnknownGroup):
		return http.StatusNotFound
	case errors.Is(err, ErrNotReady):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// apiError is the body of every error the API answers.
type apiError struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
	// StartOffset and EndOffset are set for a read outside the log.
	StartOffset *int64 `json:"start_offset,omitempty"`
	EndOffset   *int64 `json:"end_offset,omitempty"`
}

func writeError(w http.ResponseWriter, err error) {
	body := apiError{Error: err.Error(), Status: status(err)}
	var oe *OffsetError
	if errors.As(err, &oe) {
		body.StartOffset, body.EndOffset = &oe.Start, &oe.End
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(body.Status)
	json.NewEncoder(w).Encode(body)
}

// peerGet asks another agent's console for path and decodes its JSON.
func (s *Server) peerGet(ctx context.Context, addr, path string, q url.Values, out any) error {
	if addr == "" {
		return errors.New("the agent advertises no HTTP address")
	}
	u := url.URL{Scheme: "http", Host: addr, Path: path, RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("ask %s: %w", addr, err)
	}
	if auth, ok := ctx.Value(authorizationKey{}).(string); ok {
		req.Header.Set("Authorization", auth)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("ask %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e apiError
		json.NewDecoder(resp.Body).Decode(&e)
		return &peerError{addr: addr, path: path, status: resp.StatusCode, msg: e.Error}
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("ask %s for %s: decode: %w", addr, path, err)
	}
	return nil
}

// peerError is another agent's error answer.
type peerError struct {
	addr, path string
	status     int
	msg        string
}

func (e *peerError) Error() string {
	return fmt.Sprintf("ask %s for %s: %d %s: %s", e.addr, e.path, e.status, http.StatusText(e.status), e.msg)
}

// fanOut calls fn for every agent but self in parallel and waits.
func fanOut(members []Agent, self string, fn func(i int, m Agent)) {
	var wg sync.WaitGroup
	for i, m := range members {
		if m.Name == self {
			continue
		}
		wg.Go(func() { fn(i, m) })
	}
	wg.Wait()
}
