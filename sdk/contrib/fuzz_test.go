package contrib

import (
	"errors"
	"strings"
	"testing"

	"github.com/tierpack/tierpack/sdk"

	"github.com/tierpack/tierpack/sdk/tier"
)

// FuzzParse feeds arbitrary bytes to the manifest parser. It must never
// panic; what it accepts must satisfy every documented rule, and what it
// refuses must be a located ErrInvalid error.
func FuzzParse(f *testing.F) {
	f.Add([]byte("name: a\nversion: 1.0.0\ntype: script\ntier: contrib\n"))
	f.Add([]byte("apiVersion: tierpack.dev/v1\nname: x-y\nversion: 1.2.3+b\ntype: chart\ntier: official\nfiles: [a, b/c]\nspec: {k: [1, {x: y}]}\n"))
	f.Add([]byte("name: [\n"))
	f.Add([]byte("files: [../x]\n"))
	f.Add([]byte("spec: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			if !strings.HasPrefix(err.Error(), FileName) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if !nameRE().MatchString(m.Name) || !typeRE().MatchString(m.Type) || !sdk.ValidTag(TagFor(m.Version)) {
			t.Fatalf("accepted a manifest breaking the name/type/version rules: %+v", m)
		}
		if m.Tier < tier.Contrib || m.Tier > tier.Official {
			t.Fatalf("accepted tier %v", m.Tier)
		}
		for _, f := range m.Files {
			if CheckRelPath(f) != nil {
				t.Fatalf("accepted unsafe path %q", f)
			}
		}
		if _, err := m.SpecJSON(); err != nil && !errors.Is(err, ErrInvalid) {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("SpecJSON error is not a FieldError: %v", err)
			}
		}
	})
}
