package iceberg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/silt-io/silt/objstore"
)

// Namespace is the one namespace of the catalog: every exported topic is
// the table silt.<topic>.
const Namespace = "silt"

// Catalog serves the tables in a bucket through the read-only part of
// Iceberg's REST catalog API (the OpenAPI spec's config, namespaces and
// tables), so engines configured with a REST catalog at the agent's HTTP
// address find every exported topic as silt.<topic>. It reads the bucket
// on every request and keeps no state: any agent serves the same answers,
// and a table a compactor commits is visible at once.
//
// Writes (create, commit, drop, rename) answer 406 Not Acceptable: only
// the compactor commits to these tables.
type Catalog struct {
	bucket   objstore.Bucket
	location string
	log      *slog.Logger
}

// NewCatalog returns the catalog of the tables in bucket. location is what
// Options.Location is to the tables ("" for the default from the bucket's
// name); log may be nil.
func NewCatalog(bucket objstore.Bucket, location string, log *slog.Logger) *Catalog {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Catalog{bucket: bucket, location: location, log: log}
}

// catalogTimeout bounds the bucket reads of one request.
const catalogTimeout = 30 * time.Second

// endpoints are the routes the catalog serves, advertised by /v1/config
// so that clients call nothing else (views, for one).
var endpoints = []string{
	"GET /v1/{prefix}/namespaces",
	"GET /v1/{prefix}/namespaces/{namespace}",
	"HEAD /v1/{prefix}/namespaces/{namespace}",
	"GET /v1/{prefix}/namespaces/{namespace}/tables",
	"GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
	"HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
}

// Register adds the catalog's routes, all under /v1/, to mux.
func (c *Catalog) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/config", c.config)
	mux.HandleFunc("GET /v1/namespaces", c.namespaces)
	mux.HandleFunc("GET /v1/namespaces/{ns}", c.namespace)
	mux.HandleFunc("HEAD /v1/namespaces/{ns}", c.namespace)
	mux.HandleFunc("GET /v1/namespaces/{ns}/tables", c.tables)
	mux.HandleFunc("GET /v1/namespaces/{ns}/tables/{table}", c.table)
	mux.HandleFunc("HEAD /v1/namespaces/{ns}/tables/{table}", c.table)
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			writeError(w, http.StatusNotFound, "NoSuchRouteException", fmt.Sprintf("no route %s %s", r.Method, r.URL.Path))
			return
		}
		writeError(w, http.StatusNotAcceptable, "UnsupportedOperationException",
			"silt's catalog is read-only: the compactor commits every table")
	})
}

func (c *Catalog) config(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{"defaults": map[string]string{}, "overrides": map[string]string{}, "endpoints": endpoints})
}

func (c *Catalog) namespaces(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Query().Get("parent"); p != "" {
		// silt has no nested namespaces.
		if p != Namespace {
			writeError(w, http.StatusNotFound, "NoSuchNamespaceException", fmt.Sprintf("namespace %q does not exist", p))
			return
		}
		writeJSON(w, map[string]any{"namespaces": [][]string{}})
		return
	}
	writeJSON(w, map[string]any{"namespaces": [][]string{{Namespace}}})
}

// checkNamespace answers 404 and returns false for any namespace but
// silt's.
func checkNamespace(w http.ResponseWriter, r *http.Request) bool {
	if ns := r.PathValue("ns"); ns != Namespace {
		writeError(w, http.StatusNotFound, "NoSuchNamespaceException", fmt.Sprintf("namespace %q does not exist", ns))
		return false
	}
	return true
}

func (c *Catalog) namespace(w http.ResponseWriter, r *http.Request) {
	if !checkNamespace(w, r) {
		return
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, map[string]any{"namespace": []string{Namespace}, "properties": map[string]string{}})
}

func (c *Catalog) tables(w http.ResponseWriter, r *http.Request) {
	if !checkNamespace(w, r) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), catalogTimeout)
	defer cancel()
	names, err := TableNames(ctx, c.bucket)
	if err != nil {
		c.log.Warn("iceberg catalog: list tables", "err", err)
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailableException", err.Error())
		return
	}
	ids := make([]map[string]any, 0, len(names))
	for _, n := range names {
		ids = append(ids, map[string]any{"namespace": []string{Namespace}, "name": n})
	}
	writeJSON(w, map[string]any{"identifiers": ids})
}

func (c *Catalog) table(w http.ResponseWriter, r *http.Request) {
	topic := r.PathValue("table")
	if ns := r.PathValue("ns"); ns != Namespace {
		// NoSuchTable, not NoSuchNamespace: engines that resolve
		// silt.<topic>.snapshots first as table snapshots of namespace
		// silt.<topic> go on to the metadata table only on NoSuchTable.
		writeError(w, http.StatusNotFound, "NoSuchTableException", fmt.Sprintf("table %s.%s does not exist", ns, topic))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), catalogTimeout)
	defer cancel()
	var (
		md  *Metadata
		v   int64
		raw []byte
		err = objstore.ErrNotFound
	)
	if validTopic(topic) {
		md, v, raw, err = LoadMetadata(ctx, c.bucket, topic)
	}
	if errors.Is(err, objstore.ErrNotFound) {
		writeError(w, http.StatusNotFound, "NoSuchTableException", fmt.Sprintf("table %s.%s does not exist", Namespace, topic))
		return
	}
	if err != nil {
		c.log.Warn("iceberg catalog: load table", "table", topic, "err", err)
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailableException", err.Error())
		return
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	t := Open(c.bucket, topic, Options{Location: c.location})
	loc := t.uri(metadataKey(topic, v))
	if md.Location != t.Location() {
		// The metadata says where the table is; the file's URI follows it.
		loc = md.Location + "/metadata/" + strings.TrimPrefix(metadataKey(topic, v), metadataDir(topic))
	}
	writeJSON(w, map[string]any{"metadata-location": loc, "metadata": json.RawMessage(raw), "config": map[string]string{}})
}

// validTopic reports whether name can be a Kafka topic, so a path element
// can never reach outside export/.
func validTopic(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 249 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// TableNames returns the topics with a table in the bucket, in order:
// those with metadata under export/<topic>/metadata/. Topics deleted since
// keep their tables, as they keep their export. It costs two LISTs per
// exported topic, skipping over each topic's files.
func TableNames(ctx context.Context, b objstore.Reader) ([]string, error) {
	var names []string
	after := ""
	for {
		topic := ""
		for info, err := range b.List(ctx, "export/", after) {
			if err != nil {
				return nil, fmt.Errorf("list export/: %w", err)
			}
			topic, _, _ = strings.Cut(strings.TrimPrefix(info.Key, "export/"), "/")
			break
		}
		if topic == "" {
			slices.Sort(names) // key order puts orders-eu before orders
			return names, nil
		}
		// Every key of this topic sorts before export/<topic>0 ('0' follows
		// '/'), and no other topic's key falls between.
		after = "export/" + topic + "0"
		if !validTopic(topic) {
			continue
		}
		for _, err := range b.List(ctx, metadataDir(topic), "") {
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", metadataDir(topic), err)
			}
			names = append(names, topic)
			break
		}
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return // the client went away
	}
}

// writeError answers with the REST spec's ErrorModel.
func writeError(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": typ, "code": code}})
}
