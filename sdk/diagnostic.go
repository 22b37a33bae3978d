package sdk

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Severity ranks a Diagnostic.
type Severity int

// Severities, from worst.
const (
	SeverityError Severity = iota + 1
	SeverityWarning
	SeverityInfo
)

// String returns "error", "warning" or "info".
func (s Severity) String() string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	case SeverityInfo:
		return "info"
	}
	return "unknown"
}

// MarshalText encodes the severity by name, for JSON output.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "error":
		*s = SeverityError
	case "warning":
		*s = SeverityWarning
	case "info":
		*s = SeverityInfo
	default:
		return fmt.Errorf("unknown severity %q: use error, warning or info", b)
	}
	return nil
}

// Diagnostic is one finding about a contribution, with where it is.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	// File is relative to the contribution folder, slash-separated; empty
	// when the finding is about the contribution as a whole.
	File string `json:"file,omitempty"`
	// Line and Column are 1-based; 0 when unknown.
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
	// Hint says how to fix it.
	Hint string `json:"hint,omitempty"`
}

// String formats the diagnostic like a compiler: file:line:col: severity: message (hint).
func (d Diagnostic) String() string {
	var b strings.Builder
	if d.File != "" {
		if f := Escape(d.File); f != d.File {
			b.WriteString(strconv.Quote(d.File))
		} else {
			b.WriteString(d.File)
		}
		if d.Line > 0 {
			fmt.Fprintf(&b, ":%d", d.Line)
			if d.Column > 0 {
				fmt.Fprintf(&b, ":%d", d.Column)
			}
		}
		b.WriteString(": ")
	}
	b.WriteString(d.Severity.String())
	b.WriteString(": ")
	b.WriteString(Escape(d.Message))
	if d.Hint != "" {
		b.WriteString(" (")
		b.WriteString(Escape(d.Hint))
		b.WriteString(")")
	}
	return b.String()
}

// Escape returns s with control characters, bidirectional overrides and
// every other non-printable character written as Go escapes (\x1b,
// \u202e), so that a file name from a contribution or an archive cannot
// rewrite a terminal line or reorder what a message shows. Printable text,
// spaces included, is left alone.
func Escape(s string) string {
	clean := true
	for _, r := range s {
		if r != ' ' && !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r == ' ' || unicode.IsPrint(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRune(r) // '\x1b'
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

// Errorf returns an error diagnostic about file at line (0 if unknown).
func Errorf(file string, line int, format string, args ...any) Diagnostic {
	return Diagnostic{Severity: SeverityError, File: file, Line: line, Message: fmt.Sprintf(format, args...)}
}

// Warnf returns a warning diagnostic about file at line (0 if unknown).
func Warnf(file string, line int, format string, args ...any) Diagnostic {
	return Diagnostic{Severity: SeverityWarning, File: file, Line: line, Message: fmt.Sprintf(format, args...)}
}

// WithHint returns d with a hint on how to fix it.
func (d Diagnostic) WithHint(format string, args ...any) Diagnostic {
	d.Hint = fmt.Sprintf(format, args...)
	return d
}

// Count returns how many diagnostics have severity s.
func Count(diags []Diagnostic, s Severity) int {
	n := 0
	for _, d := range diags {
		if d.Severity == s {
			n++
		}
	}
	return n
}
