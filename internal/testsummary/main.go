// Command testsummary reads `go test -json` on stdin, prints the output of
// failed tests (and package build failures) as they finish, and ends with one
// line counting the tests that passed, failed and were skipped. It exits
// non-zero if anything failed, so `make test` fails with it.
//
// A skipped test is listed by name: in silt a skip is a gap to look at, not a
// pass (tests that need a server they cannot start fail instead).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	os.Exit(run(os.Stdin, os.Stdout))
}

func run(in io.Reader, out io.Writer) int {
	start := time.Now()
	outputs := map[string]*strings.Builder{} // package/test -> output so far
	var passed, failed, skipped int
	var failedNames, skippedNames []string
	pkgFailed := map[string]bool{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			fmt.Fprintln(out, string(line)) // build errors arrive as plain text
			continue
		}
		id := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			b := outputs[id]
			if b == nil {
				b = &strings.Builder{}
				outputs[id] = b
			}
			b.WriteString(e.Output)
		case "pass":
			if e.Test != "" {
				passed++
			} else {
				fmt.Fprintf(out, "ok   %s (%.1fs)\n", e.Package, e.Elapsed)
			}
			delete(outputs, id)
		case "skip":
			if e.Test != "" {
				skipped++
				skippedNames = append(skippedNames, id)
			}
			delete(outputs, id)
		case "fail":
			if e.Test != "" {
				failed++
				failedNames = append(failedNames, id)
				// Subtest output is printed by its parent's failure too;
				// print only top-level tests' output.
				if !strings.Contains(e.Test, "/") {
					fmt.Fprintf(out, "--- FAIL %s\n%s", id, outputs[id])
				}
			} else {
				pkgFailed[e.Package] = true
				fmt.Fprintf(out, "FAIL %s (%.1fs)\n", e.Package, e.Elapsed)
				if b := outputs[id]; b != nil {
					fmt.Fprint(out, b.String())
				}
			}
			delete(outputs, id)
		}
	}
	sort.Strings(skippedNames)
	for _, n := range skippedNames {
		fmt.Fprintf(out, "skipped: %s\n", n)
	}
	sort.Strings(failedNames)
	for _, n := range failedNames {
		fmt.Fprintf(out, "failed:  %s\n", n)
	}
	fmt.Fprintf(out, "tests: %d passed, %d failed, %d skipped; %d packages failed (%s)\n",
		passed, failed, skipped, len(pkgFailed), time.Since(start).Round(time.Second))
	if failed > 0 || len(pkgFailed) > 0 {
		return 1
	}
	return 0
}
