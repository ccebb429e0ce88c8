package console

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// pageTemplate is one page: the layout with the page's "main" block.
type pageTemplate struct {
	t *template.Template
}

var pageNames = []string{"cluster", "topics", "topic", "records", "groups", "group", "bucket", "error"}

func parsePages() (map[string]*pageTemplate, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("console layout: %w", err)
	}
	pages := map[string]*pageTemplate{}
	for _, name := range pageNames {
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console page %s: %w", name, err)
		}
		pages[name] = &pageTemplate{t: t}
	}
	return pages, nil
}

// pageData is what every page template gets.
type pageData struct {
	Title string
	// Nav is the section the page belongs to, for the menu.
	Nav string
	// Refresh is false for pages that must not change under the reader
	// (the record browser).
	Refresh bool
	Query   url.Values
	Path    string
	// API is the page's JSON endpoint.
	API    string
	Now    time.Time
	View   any
	Error  string
	Status int
}

// page serves a view as HTML. A request with the X-Console-Fragment
// header (console.js's refresh) gets the main section alone.
func (s *Server) page(pattern, name string, v view) {
	nav := map[string]string{"cluster": "cluster", "topics": "topics", "topic": "topics", "records": "topics",
		"groups": "groups", "group": "groups", "bucket": "bucket"}[name]
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		data, err := v(r)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		s.render(w, r, name, http.StatusOK, pageData{
			Title: title(name, r), Nav: nav, Refresh: name != "records", Query: r.URL.Query(),
			Path: r.URL.Path, API: apiPath(name, r), Now: time.Now().UTC(), View: data,
		})
	})
}

func title(name string, r *http.Request) string {
	switch name {
	case "topic", "records":
		return "Topic " + r.PathValue("topic")
	case "group":
		return "Group " + r.PathValue("group")
	case "bucket":
		return "Bucket and cost"
	}
	return strings.ToUpper(name[:1]) + name[1:]
}

// apiPath returns the JSON endpoint of the page r asks for.
func apiPath(name string, r *http.Request) string {
	q := r.URL.Query()
	q.Del("format")
	enc := ""
	if len(q) > 0 {
		enc = "?" + q.Encode()
	}
	switch name {
	case "cluster":
		return "/api/v1/cluster"
	case "records":
		p := q.Get("partition")
		if p == "" {
			p = "0"
		}
		q.Del("partition")
		enc = ""
		if len(q) > 0 {
			enc = "?" + q.Encode()
		}
		return "/api/v1/topics/" + url.PathEscape(r.PathValue("topic")) + "/partitions/" + url.PathEscape(p) + "/records" + enc
	}
	return "/api/v1" + strings.TrimPrefix(r.URL.EscapedPath(), "/ui") + enc
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	code := status(err)
	s.render(w, r, "error", code, pageData{Title: http.StatusText(code), Path: r.URL.Path, Query: r.URL.Query(),
		Now: time.Now().UTC(), Error: err.Error(), Status: code})
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, code int, d pageData) {
	block := "layout"
	if r.Header.Get("X-Console-Fragment") != "" {
		block = "main"
	}
	var buf bytes.Buffer
	if err := s.pages[name].t.ExecuteTemplate(&buf, block, d); err != nil {
		s.opts.Logger.Error("console: render page", "page", name, "err", err)
		http.Error(w, "render "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

var funcs = template.FuncMap{
	"bytes":   formatBytes,
	"num":     formatNum,
	"rate":    formatRate,
	"spark":   sparkline,
	"uptime":  formatUptime,
	"usd":     func(v float64) string { return fmt.Sprintf("$%.2f", v) },
	"ms":      formatMs,
	"time":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
	"last":    lastValue,
	"setq":    withQuery,
	"add":     func(a, b int) int { return a + b },
	"sub":     func(a, b int64) int64 { return a - b },
	"lastRow": func(rows []RecordRow) int64 { return rows[len(rows)-1].Offset },
}

func formatBytes(v any) string {
	var n float64
	switch x := v.(type) {
	case int64:
		n = float64(x)
	case float64:
		n = x
	case int:
		n = float64(x)
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for math.Abs(n) >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}

// formatNum writes an integer with thousands separators.
func formatNum(v any) string {
	var s string
	switch x := v.(type) {
	case int64:
		s = strconv.FormatInt(x, 10)
	case int:
		s = strconv.Itoa(x)
	case int32:
		s = strconv.Itoa(int(x))
	case uint64:
		s = strconv.FormatUint(x, 10)
	case float64:
		s = strconv.FormatFloat(math.Round(x), 'f', 0, 64)
	default:
		return fmt.Sprint(v)
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func formatRate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM/s", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk/s", v/1e3)
	case v >= 10 || v == 0:
		return fmt.Sprintf("%.0f/s", v)
	}
	return fmt.Sprintf("%.2f/s", v)
}

func formatUptime(sec int64) string {
	d := time.Duration(sec) * time.Second
	if d >= 24*time.Hour {
		return fmt.Sprintf("%dd %dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	}
	return d.String()
}

func formatMs(ms int64) string {
	switch {
	case ms < 0:
		return "unlimited"
	case ms%86400000 == 0:
		return fmt.Sprintf("%dd", ms/86400000)
	case ms%3600000 == 0:
		return fmt.Sprintf("%dh", ms/3600000)
	}
	return (time.Duration(ms) * time.Millisecond).String()
}

func lastValue(s []float64) float64 {
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

// withQuery returns the page's URL with one query parameter changed.
func withQuery(path string, q url.Values, key string, value any) string {
	n := url.Values{}
	for k, v := range q {
		n[k] = v
	}
	n.Set(key, fmt.Sprint(value))
	return path + "?" + n.Encode()
}

// sparkline draws a series (oldest first) as a small inline SVG. It writes
// only numbers it formats itself, so the markup is safe.
func sparkline(series []float64) template.HTML {
	const w, h = 120.0, 24.0
	if len(series) < 2 {
		return template.HTML(`<svg class="spark" width="120" height="24" role="img" aria-label="no samples yet"></svg>`)
	}
	top := 0.0
	for _, v := range series {
		top = max(top, v)
	}
	var pts strings.Builder
	for i, v := range series {
		x := float64(i) / float64(len(series)-1) * w
		y := h - 1
		if top > 0 {
			y = h - 1 - v/top*(h-2)
		}
		fmt.Fprintf(&pts, "%.1f,%.1f ", x, y)
	}
	return template.HTML(fmt.Sprintf(`<svg class="spark" width="120" height="24" viewBox="0 0 120 24" preserveAspectRatio="none" role="img" aria-label="last %d samples, peak %.3g"><polyline fill="none" stroke="currentColor" stroke-width="1.5" points="%s"/></svg>`,
		len(series), top, strings.TrimSpace(pts.String())))
}

// dataCell is what the "data" template draws: bytes in a format.
type dataCell struct {
	Format string
	D      *Data
}

func init() {
	funcs["pair"] = func(format string, d *Data) dataCell { return dataCell{format, d} }
	funcs["iter"] = func(n int) []struct{} { return make([]struct{}, n) }
	funcs["int"] = func(v int32) int { return int(v) }
}
