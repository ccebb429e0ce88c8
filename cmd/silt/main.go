// Command silt is the single silt binary: the agent, and the tools that work
// on a bucket directly.
//
//	silt agent      run an agent (Kafka listener on localhost:9092 by default)
//	silt bench      measure silt against franz-go's in-memory kfake broker
//	silt version    print the version
//
// Run `silt help` or `silt <command> --help` for the flags.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
)

// command is one subcommand of the binary.
type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

var commands = map[string]command{}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func init() {
	commands["version"] = command{
		summary: "print the version",
		run: func(context.Context, []string) error {
			fmt.Println("silt", version)
			return nil
		},
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: silt <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "help" || os.Args[1] == "-h" || os.Args[1] == "--help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "silt: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "silt %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// parseFlags parses a subcommand's flags. help is true when the user asked
// for the usage, which pflag has printed; no positional arguments are taken.
func parseFlags(fs *pflag.FlagSet, args []string) (help bool, err error) {
	if err := fs.Parse(args); err != nil {
		if err == pflag.ErrHelp {
			return true, nil
		}
		return false, err
	}
	if fs.NArg() > 0 {
		return false, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return false, nil
}
