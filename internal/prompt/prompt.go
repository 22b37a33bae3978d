// Package prompt asks a person at a terminal for a secret, without echoing
// it. It is the only place tierpack reads from a terminal: commands run
// from scripts get their secrets from the environment or stdin instead.
package prompt

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// ErrNoTerminal is returned when there is no terminal to ask.
var ErrNoTerminal = errors.New("standard input is not a terminal")

// ErrMismatch is returned when a confirmed secret was typed differently.
var ErrMismatch = errors.New("the passwords do not match")

// Password writes label to out and reads a line from in without echo. With
// confirm, it asks again and fails with ErrMismatch unless both agree.
func Password(in *os.File, out io.Writer, label string, confirm bool) ([]byte, error) {
	fd := int(in.Fd())
	if !term.IsTerminal(fd) {
		return nil, ErrNoTerminal
	}
	read := func(label string) ([]byte, error) {
		// Echo goes off before the label is shown: someone (or a script
		// driving a terminal) who types as soon as they see it must not see
		// the secret echoed.
		restore, err := noEcho(fd)
		if err != nil {
			fmt.Fprint(out, label+": ")
			p, err := term.ReadPassword(fd)
			fmt.Fprintln(out)
			return p, err
		}
		defer restore()
		fmt.Fprint(out, label+": ")
		p, err := readLine(in)
		fmt.Fprintln(out)
		return p, err
	}
	p, err := read(label)
	if err != nil || !confirm {
		return p, err
	}
	again, err := read(label + " again")
	if err != nil {
		return nil, err
	}
	if string(again) != string(p) {
		return nil, ErrMismatch
	}
	return p, nil
}

// readLine reads one line from in, byte by byte (no buffering past it),
// without its line ending.
func readLine(in io.Reader) ([]byte, error) {
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := in.Read(b)
		if n == 1 {
			switch b[0] {
			case '\n':
				return line, nil
			case '\r':
				continue
			}
			line = append(line, b[0])
		}
		if err == io.EOF && len(line) > 0 {
			return line, nil
		}
		if err != nil {
			return line, err
		}
	}
}

// Line writes label to out and reads one line from in, echoed (a user
// name), without buffering past it: a password prompt may read the same
// terminal next.
func Line(in *os.File, out io.Writer, label string) (string, error) {
	if !term.IsTerminal(int(in.Fd())) {
		return "", ErrNoTerminal
	}
	fmt.Fprint(out, label+": ")
	line, err := readLine(in)
	if err != nil && err != io.EOF {
		return "", err
	}
	return strings.TrimSpace(string(line)), nil
}
