package file_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/silt-io/silt/objstore"
	"github.com/silt-io/silt/objstore/file"
)

// TestPutIfAbsentAcrossProcesses races separate processes — the situation
// of several agents sharing one directory on a host — for the same keys:
// each key must have exactly one winner, whose bytes are stored.
func TestPutIfAbsentAcrossProcesses(t *testing.T) {
	if dir := os.Getenv("SILT_FILE_RACE_DIR"); dir != "" {
		raceChild(dir, os.Getenv("SILT_FILE_RACE_ID"))
		return
	}
	const procs, keys = 6, 200
	dir := t.TempDir()
	cmds := make([]*exec.Cmd, procs)
	outs := make([]*strings.Builder, procs)
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPutIfAbsentAcrossProcesses$")
		cmd.Env = append(os.Environ(), "SILT_FILE_RACE_DIR="+dir, fmt.Sprintf("SILT_FILE_RACE_ID=%d", i))
		outs[i] = &strings.Builder{}
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	wins := map[string]string{} // key -> winner id
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i])
		}
		for line := range strings.Lines(outs[i].String()) {
			key, ok := strings.CutPrefix(strings.TrimSpace(line), "WON ")
			if !ok {
				continue
			}
			if prev, dup := wins[key]; dup {
				t.Errorf("key %s won by children %s and %d", key, prev, i)
			}
			wins[key] = fmt.Sprint(i)
		}
	}
	if len(wins) != keys {
		t.Fatalf("%d keys have a winner, want %d", len(wins), keys)
	}
	b, err := file.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for key, id := range wins {
		data, err := objstore.ReadAll(context.Background(), b, key)
		if err != nil || string(data) != "from "+id {
			t.Errorf("%s = %q, %v; winner was %s", key, data, err, id)
		}
	}
}

func raceChild(dir, id string) {
	b, err := file.Open(dir)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	for k := range 200 {
		key := fmt.Sprintf("journal/%020d", k)
		_, err := b.PutIfAbsent(context.Background(), key, []byte("from "+id))
		switch {
		case err == nil:
			fmt.Println("WON", key)
		case !errors.Is(err, objstore.ErrExists):
			fmt.Println("error:", err)
			os.Exit(1)
		}
	}
}
