// Package display is the command line's one path to its standard output
// and standard error for text: results, status lines, warnings, errors and
// plugin logs. Everything it did not write itself — annotation keys and
// values, index fields, plugin descriptions and stderr, registry error
// bodies, file names — is escaped (sdk.Escape: control characters, ESC
// sequences, CR, newlines inside a value, bidirectional overrides), so
// nothing from an artifact, a registry or a plugin can move the cursor,
// clear the screen, or print a line that looks like tierpack's verdict.
// Two layers do it: every renderer formats with escaped arguments, and the
// writers themselves escape any control byte other than the newlines and
// tabs of tierpack's own layout that still gets through.
//
// JSON (--output json) is not text: it goes out exact, encoding/json
// escaping what JSON must.
package display

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tierpack/tierpack/sdk"
)

// Display writes what one command shows.
type Display struct {
	// out is stdout (the data a script reads); status is stderr, or
	// io.Discard with --quiet; warn is stderr.
	out, status, warn io.Writer
	rawOut            io.Writer
	// Terminal says stdout is a terminal, where long table cells are cut.
	Terminal bool
}

// New returns a Display writing to stdout and stderr; quiet drops status
// lines (not data, warnings or errors).
func New(stdout, stderr io.Writer, quiet, terminal bool) *Display {
	d := &Display{out: Guard(stdout), status: Guard(stderr), warn: Guard(stderr), rawOut: stdout, Terminal: terminal}
	if quiet {
		d.status = io.Discard
	}
	return d
}

// Escape is sdk.Escape: the one escaping of text tierpack did not write.
func Escape(s string) string { return sdk.Escape(s) }

// args escapes every argument that carries text: strings and named string
// types, errors, Stringers, and slices of those. Numbers, times and
// durations pass as they are.
func args(in []any) []any {
	out := make([]any, len(in))
	for i, a := range in {
		out[i] = arg(a)
	}
	return out
}

func arg(a any) any {
	switch v := a.(type) {
	case nil:
		return nil
	case string:
		return Escape(v)
	case error:
		return Escape(v.Error())
	case fmt.Stringer:
		return Escape(v.String())
	case []string:
		e := make([]string, len(v))
		for i, s := range v {
			e[i] = Escape(s)
		}
		return e
	}
	if rv := reflect.ValueOf(a); rv.Kind() == reflect.String {
		return Escape(rv.String())
	}
	return a
}

// Fprintf formats to w with every text argument escaped. format is
// tierpack's own.
func Fprintf(w io.Writer, format string, a ...any) (int, error) {
	return fmt.Fprintf(w, format, args(a)...)
}

// Outf writes a line of data to stdout.
func (d *Display) Outf(format string, a ...any) error {
	_, err := Fprintf(d.out, format, a...)
	return err
}

// Statusf writes a status line for a person (stderr; nothing with --quiet).
func (d *Display) Statusf(format string, a ...any) { Fprintf(d.status, format, a...) }

// Warnf writes "tierpack: warning: …" on stderr.
func (d *Display) Warnf(format string, a ...any) {
	Fprintf(d.warn, "tierpack: warning: "+strings.TrimSuffix(format, "\n")+"\n", a...)
}

// Out is stdout for text, escaped as it is written (Guard).
func (d *Display) Out() io.Writer { return d.out }

// Err is stderr for text, escaped as it is written (Guard): for loggers.
func (d *Display) Err() io.Writer { return d.warn }

// Raw is stdout for data in formats of their own (a YAML index, a shell
// completion script), written exact.
func (d *Display) Raw() io.Writer { return d.rawOut }

// Error writes "tierpack: error: MSG" on stderr. msg may come from
// anywhere (a registry's error body, a plugin's stderr): each of its lines
// is escaped, and lines after the first are indented, so none can pass for
// a line of tierpack's own.
func (d *Display) Error(msg string) {
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		lines[i] = Escape(l)
		if i > 0 && !strings.HasPrefix(lines[i], "  ") {
			lines[i] = "  " + lines[i]
		}
	}
	fmt.Fprintf(d.warn, "tierpack: error: %s\n", strings.Join(lines, "\n"))
}

// JSON writes v as one indented JSON document on stdout, exact.
func (d *Display) JSON(v any) error {
	enc := json.NewEncoder(d.rawOut)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Guard wraps w so that whatever is written through it has every control
// character other than newline and tab, every C1 control, DEL,
// bidirectional override and other non-printable rune escaped (\x1b,
// \u202e). It is the second layer: renderers escape their arguments
// already, so this catches only what a renderer missed.
func Guard(w io.Writer) io.Writer {
	if _, ok := w.(*guard); ok || w == io.Discard {
		return w
	}
	return &guard{w: w}
}

type guard struct{ w io.Writer }

func (g *guard) Write(p []byte) (int, error) {
	if clean(p) {
		return g.w.Write(p)
	}
	written := len(p)
	var b bytes.Buffer
	for len(p) > 0 {
		r, n := utf8.DecodeRune(p)
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, p[0])
		case r == '\n' || r == '\t' || r == ' ' || unicode.IsPrint(r):
			b.Write(p[:n])
		default:
			b.WriteString(Escape(string(r)))
		}
		p = p[max(n, 1):]
	}
	if _, err := g.w.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return written, nil
}

// clean reports whether p is printable UTF-8 with only newlines and tabs
// as controls: the common case, written through untouched.
func clean(p []byte) bool {
	for i := 0; i < len(p); {
		c := p[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && n <= 1 || !unicode.IsPrint(r) {
			return false
		}
		i += n
	}
	return true
}
