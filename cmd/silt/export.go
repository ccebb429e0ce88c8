package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"
)

func init() {
	commands["export"] = command{summary: "export topics to Parquet under <bucket>/export/ once, up to their end", run: runExport}
}

func runExport(ctx context.Context, args []string) error {
	fs := pflag.NewFlagSet("silt export", pflag.ContinueOnError)
	var (
		bf    bucketFlags
		lf    logFlags
		cf    compactFlags
		topic string
	)
	bf.register(fs)
	lf.register(fs)
	cf.register(fs, true)
	fs.StringVar(&topic, "topic", "", "export this topic, whether or not silt.export is set on it (default: every topic with silt.export=parquet)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	log, err := lf.logger()
	if err != nil {
		return err
	}
	bucket, err := bf.open(ctx, nil)
	if err != nil {
		return err
	}
	defer bucket.Close()
	prog := startProgress("export")
	c, closeFn, err := openCompactor(ctx, bucket, log, &cf, prog)
	if err != nil {
		prog.stop()
		return err
	}
	defer closeFn()
	start := time.Now()
	st, err := c.ExportNow(ctx, topic)
	prog.stop()
	if err != nil {
		return err
	}
	log.Info("export done", "records", st.ExportedRecords, "files", st.ExportedFiles, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// hostname names this process in journal entries it writes.
func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return fmt.Sprint(os.Getpid())
	}
	return h
}
