package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// newFlags makes a command's flag set, whose usage (--help, or a wrong use) prints the command's
// summary, flags, environment and example.
func newFlags(name, summary string, env []string, example string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { printHelp(stderr, name, summary, env, example, fs) }
	return fs
}

// commandLine is what a command runs with: its flag set (to which it adds its flags before
// parse), its arguments, the environment and the output streams.
type commandLine struct {
	flags          *flag.FlagSet
	args           []string
	env            environment
	stdout, stderr io.Writer
}

// parse parses the flags. The flag package has already printed a bad flag and the usage.
func (cl commandLine) parse() error {
	if err := cl.flags.Parse(cl.args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// usageError reports a wrong use the flag package cannot see (a missing --token) the way it
// reports a bad flag: the problem, then the command's usage.
func (cl commandLine) usageError(format string, args ...any) error {
	fmt.Fprintf(cl.stderr, format+"\n", args...)
	cl.flags.Usage()
	return errUsage
}

// readToken is the value of a --token flag; "-" reads standard input.
func (cl commandLine) readToken(value string) (string, error) {
	if value == "-" {
		b, err := io.ReadAll(io.LimitReader(os.Stdin, 64<<10))
		if err != nil {
			return "", err
		}
		value = string(b)
	}
	t := strings.TrimSpace(value)
	if t == "" {
		return "", cl.usageError("--token is required")
	}
	return t, nil
}

// errUsage is a wrong use of a command, already reported with the command's usage.
var errUsage = errors.New("usage")
