package agent

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// startHTTP serves /metrics (Prometheus), /healthz (the process is up),
// /readyz (the journal is replayed, the Kafka listener open and the cluster
// joined) and the internal RPC between agents (agent/commit).
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
	a.httpServer = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	a.wg.Go(func() {
		if err := a.httpServer.Serve(ln); err != nil && err != http.ErrServerClosed {
			a.log.Error("http server failed", "err", err)
		}
	})
	return nil
}
