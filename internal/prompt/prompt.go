// Package prompt asks a person at a terminal for a secret, without echoing
// it. It is the only place tierpack reads from a terminal: commands run
// from scripts get their secrets from the environment or stdin instead.
package prompt

import (
	"errors"
	"fmt"
	"io"
	"os"

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
		fmt.Fprint(out, label+": ")
		p, err := term.ReadPassword(fd)
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
