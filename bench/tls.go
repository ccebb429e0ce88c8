package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/silt-io/silt/internal/testpki"
)

// The TLS measurement: what TLS costs. On one agent, the same volume is
// produced over its PLAINTEXT listener and then over its SSL listener,
// and each topic read back (from the agent's cache) the same way, so the
// two differ only in the transport. It runs on silt only; the reference
// broker has no TLS listener configured.

// TLSRun is the TLS measurement.
type TLSRun struct {
	Produce    Phase `json:"produce"`
	TLSProduce Phase `json:"tls_produce"`
	Consume    Phase `json:"consume"`
	TLSConsume Phase `json:"tls_consume"`
}

// tlsTarget is a target that also serves Kafka over TLS.
type tlsTarget interface {
	// TLSSeeds returns the TLS listeners' addresses and the client
	// configuration that trusts them.
	TLSSeeds() ([]string, *tls.Config)
}

// makeCertificate makes the CA and the agents' certificate, for localhost
// and 127.0.0.1, in a temporary directory removed at Close.
func (l *Local) makeCertificate() (certFile, keyFile string, err error) {
	dir, err := os.MkdirTemp("", "silt-bench-tls-*")
	if err != nil {
		return "", "", err
	}
	if l.pki, err = testpki.NewCA(dir); err != nil {
		return "", "", fmt.Errorf("bench TLS certificates: %w", err)
	}
	_, certFile, keyFile, err = l.pki.Issue("agent", pkix.Name{CommonName: "localhost"}, true)
	if err != nil {
		return "", "", fmt.Errorf("bench TLS certificates: %w", err)
	}
	return certFile, keyFile, nil
}

// TLSSeeds implements tlsTarget.
func (l *Local) TLSSeeds() ([]string, *tls.Config) {
	return []string{l.current.ListenerAddr("SSL")}, l.pki.ClientTLS()
}

// tlsThroughput produces and reads back ProduceBytes over PLAINTEXT, then
// over TLS.
func (r *runner) tlsThroughput(ctx context.Context, t Target, rep *Report, _ bool) error {
	tt, ok := t.(tlsTarget)
	if !ok {
		return nil // no TLS listener: the rows say n/a
	}
	tlsSeeds, cfg := tt.TLSSeeds()
	run := &TLSRun{}
	for _, v := range []struct {
		name             string
		seeds            []string
		opts             []kgo.Opt
		produce, consume *Phase
	}{
		{"plaintext", t.Seeds(), nil, &run.Produce, &run.Consume},
		{"tls", tlsSeeds, []kgo.Opt{kgo.DialTLSConfig(cfg)}, &run.TLSProduce, &run.TLSConsume},
	} {
		topic := r.topic("tls-" + v.name)
		if err := createTopic(ctx, t.Seeds(), topic, r.cfg.Partitions); err != nil {
			return err
		}
		vol, err := r.produceVolume(ctx, v.seeds, topic, r.cfg.Partitions, r.cfg.ProduceBytes, nil, v.opts...)
		if err != nil {
			return fmt.Errorf("produce over %s: %w", v.name, err)
		}
		*v.produce = vol.phase
		rd, err := newReader(v.seeds, topic, r.cfg.Partitions, r.cfg.RecordSize, v.opts...)
		if err != nil {
			return err
		}
		start := time.Now()
		err = rd.readUntil(ctx, vol.counts, nil)
		rd.close()
		if err != nil {
			return fmt.Errorf("consume over %s: %w", v.name, err)
		}
		*v.consume = Phase{Records: rd.total, Bytes: rd.total * int64(r.cfg.RecordSize), Duration: time.Since(start)}
	}
	rep.TLS = run
	return nil
}
