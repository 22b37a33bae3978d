package index

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// falcoctl, Falco's own artifact tool, publishes its index (Falco's rules
// and plugins, https://falcosecurity.github.io/falcoctl/index.yaml) as a
// YAML list of entries (falcosecurity/falcoctl, pkg/index/index: name,
// type, registry, repository, description, home, keywords, license,
// maintainers, sources, signature). It names repositories, not versions:
// falcoctl resolves a tag when it installs. Parse reads that format too, so
// `index add falco URL` makes Falco's artifacts searchable; each entry gets
// one version, the tag falcoctl installs by default ("latest"), with no
// digest and no tier: what it is at is for pull and inspect to find.

// falcoctlEntry is an entry of falcoctl's index.
type falcoctlEntry struct {
	Name        string   `yaml:"name"`
	Type        string   `yaml:"type"`
	Registry    string   `yaml:"registry"`
	Repository  string   `yaml:"repository"`
	Description string   `yaml:"description"`
	Home        string   `yaml:"home"`
	Keywords    []string `yaml:"keywords"`
	License     string   `yaml:"license"`
	Maintainers []struct {
		Email string `yaml:"email"`
		Name  string `yaml:"name"`
	} `yaml:"maintainers"`
	Sources []string `yaml:"sources"`
	// Signature says how falcoctl verifies the entry's signature
	// (falcoctl's pkg/index/index: Signature, CosignSignature). A keyless
	// identity with an exact issuer becomes the entry's Signer; an issuer
	// regexp, a key or ignore-tlog map to nothing tierpack can verify.
	Signature struct {
		Cosign *struct {
			Issuer         string `yaml:"certificate-oidc-issuer"`
			IssuerRegexp   string `yaml:"certificate-oidc-issuer-regexp"`
			Identity       string `yaml:"certificate-identity"`
			IdentityRegexp string `yaml:"certificate-identity-regexp"`
			Key            string `yaml:"key"`
			IgnoreTlog     bool   `yaml:"ignore-tlog"`
		} `yaml:"cosign"`
	} `yaml:"signature"`
}

// signer is the keyless identity an entry's signature names, if tierpack
// can verify it.
func (f falcoctlEntry) signer() *Signer {
	c := f.Signature.Cosign
	if c == nil || c.Issuer == "" || c.IgnoreTlog || (c.Identity == "") == (c.IdentityRegexp == "") {
		return nil
	}
	return &Signer{Issuer: c.Issuer, Subject: c.Identity, SubjectRegExp: c.IdentityRegexp}
}

// FalcoctlTag is the tag falcoctl installs when none is given.
const FalcoctlTag = "latest"

// isFalcoctl reports whether data is a YAML list at its top: falcoctl's
// format (a tierpack index is a mapping).
func isFalcoctl(data []byte) bool {
	var n yaml.Node
	if yaml.Unmarshal(data, &n) != nil || len(n.Content) == 0 {
		return false
	}
	return n.Content[0].Kind == yaml.SequenceNode
}

// parseFalcoctl reads falcoctl's index format.
func parseFalcoctl(name string, data []byte) (*Index, error) {
	var in []falcoctlEntry
	if err := yaml.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("%w: %s (falcoctl's index format): %v", ErrInvalid, name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	ix := &Index{APIVersion: APIVersion, Kind: Kind, Entries: []Entry{}}
	for i, f := range in {
		if f.Name == "" || f.Registry == "" || f.Repository == "" {
			return nil, fmt.Errorf("%w: %s (falcoctl's index format): entries[%d]: name, registry and repository are required", ErrInvalid, name, i)
		}
		e := Entry{
			Name: f.Name, Type: f.Type, Repository: f.Registry + "/" + f.Repository, Latest: FalcoctlTag,
			Description: f.Description, License: f.License, Homepage: f.Home, Keywords: f.Keywords,
			Versions: []Version{{Version: FalcoctlTag, Tags: []string{FalcoctlTag}}},
		}
		e.Signer = f.signer()
		if len(f.Sources) > 0 {
			e.Source = f.Sources[0]
		}
		for _, m := range f.Maintainers {
			e.Maintainers = append(e.Maintainers, Maintainer{Name: m.Name, Email: m.Email, Role: RoleAuthor})
		}
		ix.Entries = append(ix.Entries, e)
	}
	return ix, nil
}
