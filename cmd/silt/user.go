package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/silt-io/silt/internal/scram"
	"github.com/silt-io/silt/journal"
)

func init() {
	commands["user"] = command{summary: "set, delete or list SCRAM users in the bucket's journal (no agent needed)", run: runUser}
}

// runUser manages SCRAM credentials by writing journal commands directly,
// as AlterUserScramCredentials does through an agent: the way to create the
// first administrator of a cluster whose listeners all need SASL. Entries
// are written with put-if-absent, so it is safe beside running agents,
// which pick the change up as they follow the journal.
func runUser(ctx context.Context, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return errors.New("usage: silt user set|delete|list --bucket URL [--user NAME] [--mechanism M] [--password-file F]")
	}
	sub, args := args[0], args[1:]
	fs := pflag.NewFlagSet("silt user "+sub, pflag.ContinueOnError)
	var (
		bf         bucketFlags
		lf         logFlags
		user       string
		mechs      []string
		pwFile     string
		iterations int
	)
	bf.register(fs)
	lf.register(fs)
	fs.StringVar(&user, "user", "", "the user's name (its principal is User:NAME)")
	fs.StringSliceVar(&mechs, "mechanism", []string{scram.SHA512.Name}, "SCRAM-SHA-256, SCRAM-SHA-512 or both (comma-separated); delete: those to remove")
	fs.StringVar(&pwFile, "password-file", "", "file holding the password (one line; a trailing newline is dropped); '-' reads standard input")
	fs.IntVar(&iterations, "iterations", scram.MinIterations, "PBKDF2 iterations of the credential (4096 to 16384)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if sub != "list" && user == "" {
		return errors.New("--user is required")
	}
	for _, m := range mechs {
		if _, ok := scram.Lookup(m); !ok {
			return fmt.Errorf("--mechanism %q: want SCRAM-SHA-256 or SCRAM-SHA-512", m)
		}
	}
	var cmds []journal.Command
	switch sub {
	case "set":
		password, err := readPassword(pwFile)
		if err != nil {
			return err
		}
		for _, name := range mechs {
			m, _ := scram.Lookup(name)
			cred, err := m.NewCredential(password, iterations)
			if err != nil {
				return err
			}
			cmds = append(cmds, journal.Command{SetScramCredential: &journal.SetScramCredential{User: user, Mechanism: name, Credential: &cred}})
		}
	case "delete":
		for _, name := range mechs {
			cmds = append(cmds, journal.Command{SetScramCredential: &journal.SetScramCredential{User: user, Mechanism: name}})
		}
	case "list":
	default:
		return fmt.Errorf("silt user %s: want set, delete or list", sub)
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
	jl, err := journal.Open(ctx, bucket, journal.Options{WriterID: "silt-user-" + hostname(), Logger: log})
	if err != nil {
		return fmt.Errorf("read the journal in %s: %w", bucket.Name(), err)
	}
	if sub == "list" {
		jl.View(func(s *journal.State) {
			users := slices.Sorted(func(yield func(string) bool) {
				for u := range s.ScramCredentials {
					if !yield(u) {
						return
					}
				}
			})
			for _, u := range users {
				var ms []string
				for m, c := range s.ScramCredentials[u] {
					ms = append(ms, fmt.Sprintf("%s(iterations=%d)", m, c.Iterations))
				}
				slices.Sort(ms)
				fmt.Printf("%s\t%s\n", u, strings.Join(ms, ","))
			}
		})
		return nil
	}
	cm := journal.NewCommitter(jl, journal.CommitterOptions{})
	defer cm.Close()
	_, res, err := cm.Submit(ctx, cmds)
	if err != nil {
		return fmt.Errorf("write to the journal: %w", err)
	}
	for i, r := range res {
		if r.Code != 0 {
			return fmt.Errorf("%s %s for %s: %w", sub, mechs[i], user, kerr.ErrorForCode(r.Code))
		}
	}
	fmt.Fprintf(os.Stderr, "%s: user %s, %s\n", sub, user, strings.Join(mechs, ","))
	return nil
}

// readPassword reads a password from a file ("-": standard input),
// without its trailing newline.
func readPassword(path string) (string, error) {
	if path == "" {
		return "", errors.New("--password-file is required (a password on the command line would be in the shell's history)")
	}
	var data []byte
	var err error
	if path == "-" {
		data, err = readAllStdin()
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return "", fmt.Errorf("--password-file: %w", err)
	}
	data = bytes.TrimRight(data, "\r\n")
	if len(data) == 0 {
		return "", errors.New("--password-file: the password is empty")
	}
	return string(data), nil
}

func readAllStdin() ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(os.Stdin)
	return b.Bytes(), err
}
