package agent

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/silt-io/silt/console"
	"github.com/silt-io/silt/iceberg"
)

// startHTTP serves /metrics (Prometheus), /healthz (the process is up),
// /readyz (the journal is replayed, the Kafka listener open and the cluster
// joined), the internal RPC between agents (agent/commit), the read-only
// Iceberg REST catalog of the exported topics under /v1/ (package iceberg),
// and the web console at /ui with its JSON at /api/v1 (package console,
// through console_source.go); with the authorizer on, the catalog and the
// console serve super users only (http_auth.go).
func (a *Agent) startHTTP() error {
	ln, err := net.Listen("tcp", a.cfg.HTTPListen)
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	a.httpAddr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	a.commit.Register(mux) // the internal RPC
	// The catalog and the console, behind the guard (http_auth.go).
	guarded := http.NewServeMux()
	iceberg.NewCatalog(a.bucket, "", a.log.With("component", "iceberg-catalog")).Register(guarded)
	ui, err := console.New(consoleSource{a: a, started: time.Now()}, console.Options{Logger: a.log})
	if err != nil {
		ln.Close()
		return fmt.Errorf("web console: %w", err)
	}
	ui.Register(guarded)
	for _, prefix := range guardedPrefixes {
		mux.Handle(prefix, a.guardHTTP(guarded))
	}
	a.wg.Go(func() { ui.Run(a.ctx) })
	a.httpServer = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	a.wg.Go(func() {
		if err := a.httpServer.Serve(ln); err != nil && err != http.ErrServerClosed {
			a.log.Error("http server failed", "err", err)
		}
	})
	return nil
}
