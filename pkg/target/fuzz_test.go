package target

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary strings to the reference parser: it never
// panics, refuses with ErrInvalidReference, and what it accepts prints back
// to a string that parses to the same reference.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"hello:0.1.0", "falco/hello", "ghcr.io/org/x:1.0.0", "localhost:5000/x@sha256:" + sixtyFour,
		"oci:./store:1.0.0", "oci:/tmp/a:b/store", "oci:store@sha256:" + sixtyFour, "oci:C:\\x", "a//b", "Hello:1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidReference) {
				t.Fatalf("Parse(%q) error does not wrap ErrInvalidReference: %v", s, err)
			}
			return
		}
		if r.Tag != "" && r.Digest != "" {
			t.Fatalf("Parse(%q) set both tag and digest", s)
		}
		if r.Kind != Layout && r.Repository == "" {
			t.Fatalf("Parse(%q) has no repository", s)
		}
		back, err := Parse(r.String())
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, r.String(), err)
		}
		if back != r && !(r.Kind == Layout && strings.Contains(r.Path, ":")) {
			t.Fatalf("round trip of %q: %+v became %+v", s, r, back)
		}
	})
}
