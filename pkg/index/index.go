package index

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	"go.yaml.in/yaml/v3"
	"oras.land/oras-go/v2/errdef"

	"github.com/tierpack/tierpack/pkg/home"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/sdk/contrib"
	"github.com/tierpack/tierpack/sdk/tier"
)

// APIVersion is the index schema version this package writes and reads.
const APIVersion = "tierpack.dev/v1"

// Kind is the value of an index's kind field.
const Kind = "Index"

// MediaType is the artifactType of an index published as an OCI artifact,
// and the media type of its one layer (the YAML document).
const MediaType = "application/vnd.tierpack.index.v1+yaml"

// MaxSize bounds an index tierpack reads (32 MiB): far above any real
// catalogue, low enough that a wrong URL cannot exhaust memory.
const MaxSize = 32 << 20

// ErrInvalid is wrapped by every error about an index's content.
var ErrInvalid = errors.New("invalid index")

// ErrNotFound is matched (errors.Is) by errors about an index, index file
// or configured index name that does not exist. It wraps oras-go's
// errdef.ErrNotFound, so those errors match both.
var ErrNotFound = fmt.Errorf("index %w", errdef.ErrNotFound)

// notFoundError is an ErrNotFound with a message of its own, so the
// message says what is missing without a "not found:" prefix.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }

// Is makes the error match ErrNotFound and errdef.ErrNotFound.
func (e *notFoundError) Is(target error) bool {
	return target == ErrNotFound || target == errdef.ErrNotFound
}

func notFoundf(format string, args ...any) error {
	return &notFoundError{fmt.Sprintf(format, args...)}
}

// Index is a catalogue of contributions.
type Index struct {
	// APIVersion is the schema version, APIVersion.
	APIVersion string `yaml:"apiVersion" json:"apiVersion"`
	// Kind is always Kind.
	Kind string `yaml:"kind" json:"kind"`
	// Entries are sorted by name, then repository.
	Entries []Entry `yaml:"entries" json:"entries"`
}

// Entry is one repository's contribution: its versions, and the metadata
// of its latest version.
type Entry struct {
	// Name is the contribution's name.
	Name string `yaml:"name" json:"name"`
	// Type is the contribution type (the plugin that unpacks it).
	Type string `yaml:"type" json:"type"`
	// Tier is the latest version's tier; None (omitted) means untiered.
	Tier tier.Tier `yaml:"tier,omitempty" json:"tier,omitempty"`
	// Repository is a tierpack reference without tag or digest.
	Repository string `yaml:"repository" json:"repository"`
	// Latest is the latest version (see the package documentation).
	Latest string `yaml:"latest" json:"latest"`
	// Description, License, Source (a URL) and Homepage describe the latest
	// version; each may be empty.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	License     string `yaml:"license,omitempty" json:"license,omitempty"`
	Source      string `yaml:"source,omitempty" json:"source,omitempty"`
	Homepage    string `yaml:"homepage,omitempty" json:"homepage,omitempty"`
	// Keywords are search terms the artifact records, if any.
	Keywords []string `yaml:"keywords,omitempty,flow" json:"keywords,omitempty"`
	// Maintainers are the OWNERS approvers and reviewers, then the authors.
	Maintainers []Maintainer `yaml:"maintainers,omitempty" json:"maintainers,omitempty"`
	// Signer is the keyless identity a falcoctl index says signs the
	// entry's artifacts (its signature.cosign); nil when it names none. It
	// is what the index says, not a trust decision: a policy scope that
	// lists the identity is (index add suggests one).
	Signer *Signer `yaml:"signer,omitempty" json:"signer,omitempty"`
	// Versions are newest first.
	Versions []Version `yaml:"versions" json:"versions"`
	// Index names the configured index the entry was read from. Merge sets
	// it; it is never written to an index file.
	Index string `yaml:"-" json:"index,omitempty"`
}

// Signer is a keyless identity, as cosign names it.
type Signer = sign.Identity

// Version is one published version of an entry: one manifest or image
// index, and the tags pointing at it.
type Version struct {
	// Version is org.opencontainers.image.version, else the first tag.
	Version string `yaml:"version" json:"version"`
	// Tags point at Digest, sorted.
	Tags []string `yaml:"tags,omitempty,flow" json:"tags,omitempty"`
	// Digest is the manifest's or image index's digest.
	Digest string `yaml:"digest" json:"digest"`
	// Tier is this version's verified tier (see Builder.Verify): contrib
	// for an artifact whose higher claim no trusted record proves; None
	// (omitted) means untiered.
	Tier tier.Tier `yaml:"tier,omitempty" json:"tier,omitempty"`
	// ClaimedTier is the tier annotation, when it differs from Tier: a
	// claim no trusted record proves.
	ClaimedTier tier.Tier `yaml:"claimedTier,omitempty" json:"claimedTier,omitempty"`
	// Created is org.opencontainers.image.created as annotated, if set.
	Created string `yaml:"created,omitempty" json:"created,omitempty"`
	// Revision is the source revision, if annotated.
	Revision string `yaml:"revision,omitempty" json:"revision,omitempty"`
	// Requires is what this version requires (tierpack.yaml's requires,
	// from its dev.tierpack.requires annotation), for a reader to plan
	// with; install reads it again from the artifact, whose digest covers
	// it.
	Requires *contrib.Requires `yaml:"requires,omitempty" json:"requires,omitempty"`
	// Record is the digest of the tier record (its referrer manifest in
	// the entry's repository) that proves Tier above contrib, and KeyID the
	// key that signed it. They are the proof a reader checks with its own
	// trust policy: without it, or when it does not verify, Tier is a claim
	// of the index.
	Record string `yaml:"record,omitempty" json:"record,omitempty"`
	KeyID  string `yaml:"keyID,omitempty" json:"keyID,omitempty"`
	// Demoted is set on a version a trusted demotion capped.
	Demoted *Demotion `yaml:"demoted,omitempty" json:"demoted,omitempty"`
	// Unverified says why this reader did not accept the index's Tier (a
	// claim of the index, now in ClaimedTier); set by the reader, never
	// written to an index file.
	Unverified string `yaml:"-" json:"unverified,omitempty"`
}

// Demotion is what an index says of a demoted version: the tier it was
// taken from, and why (promotion.Record's reason kind and advisory).
type Demotion struct {
	From       tier.Tier `yaml:"from" json:"from"`
	ReasonKind string    `yaml:"reasonKind,omitempty" json:"reasonKind,omitempty"`
	Advisory   string    `yaml:"advisory,omitempty" json:"advisory,omitempty"`
}

// String says it as people read it: "demoted from official: security,
// CVE-2026-1234".
func (d Demotion) String() string {
	s := "demoted from " + d.From.String()
	var why []string
	for _, w := range []string{d.ReasonKind, d.Advisory} {
		if w != "" {
			why = append(why, w)
		}
	}
	if len(why) > 0 {
		s += ": " + strings.Join(why, ", ")
	}
	return s
}

// Proof is what a Builder's Verify finds for a version: the tier it is
// at, the record that proves it, and a demotion.
type Proof struct {
	Tier          tier.Tier
	Record, KeyID string
	Demoted       *Demotion
}

// Maintainer is someone who supports an entry.
type Maintainer struct {
	// Name is a user or team handle (OWNERS) or a person's name (authors).
	Name string `yaml:"name" json:"name"`
	// Email is set for authors given as "Name <email>".
	Email string `yaml:"email,omitempty" json:"email,omitempty"`
	// Role is RoleApprover, RoleReviewer or RoleAuthor.
	Role string `yaml:"role" json:"role"`
}

// Maintainer roles.
const (
	// RoleApprover is an OWNERS approver.
	RoleApprover = "approver"
	// RoleReviewer is an OWNERS reviewer.
	RoleReviewer = "reviewer"
	// RoleAuthor is listed in org.opencontainers.image.authors.
	RoleAuthor = "author"
)

// New returns an empty index.
func New() *Index { return &Index{APIVersion: APIVersion, Kind: Kind, Entries: []Entry{}} }

// Reference returns the reference that pulls version v of e:
// REPOSITORY:TAG with v's first tag, or REPOSITORY@DIGEST when it has none.
func (e Entry) Reference(v Version) string {
	if len(v.Tags) > 0 {
		return e.Repository + ":" + v.Tags[0]
	}
	return e.Repository + "@" + v.Digest
}

// LatestVersion returns the version Latest names; ok is false when the
// entry has no versions.
func (e Entry) LatestVersion() (v Version, ok bool) {
	for _, v := range e.Versions {
		if v.Version == e.Latest {
			return v, true
		}
	}
	if len(e.Versions) > 0 {
		return e.Versions[0], true
	}
	return Version{}, false
}

// Parse reads an index document. name says where it came from, for errors.
func Parse(name string, data []byte) (*Index, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: %s is empty (create one with `tierpack index build`)", ErrInvalid, name)
	}
	if isFalcoctl(data) {
		return parseFalcoctl(name, data)
	}
	var ix Index
	if err := yaml.Unmarshal(data, &ix); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := ix.validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
	}
	return &ix, nil
}

func (ix *Index) validate() error {
	switch {
	case ix.APIVersion == "":
		return fmt.Errorf("no apiVersion: a tierpack index starts with apiVersion: %s and kind: %s", APIVersion, Kind)
	case ix.APIVersion != APIVersion:
		return fmt.Errorf("apiVersion %q is not %q: it was written by another tierpack version; upgrade tierpack or rebuild the index", ix.APIVersion, APIVersion)
	case ix.Kind != Kind:
		return fmt.Errorf("kind %q is not %q", ix.Kind, Kind)
	}
	if ix.Entries == nil {
		ix.Entries = []Entry{}
	}
	for i, e := range ix.Entries {
		where := fmt.Sprintf("entries[%d]", i)
		if e.Name != "" {
			where += fmt.Sprintf(" (%s)", e.Name)
		}
		switch {
		case e.Name == "":
			return fmt.Errorf("%s: no name", where)
		case e.Repository == "":
			return fmt.Errorf("%s: no repository", where)
		case len(e.Versions) == 0:
			return fmt.Errorf("%s: no versions", where)
		}
		for j, v := range e.Versions {
			if _, err := digest.Parse(v.Digest); err != nil {
				return fmt.Errorf("%s: versions[%d]: digest %q: %v", where, j, v.Digest, err)
			}
			if v.Version == "" {
				return fmt.Errorf("%s: versions[%d]: no version", where, j)
			}
		}
	}
	return nil
}

// Load reads an index file.
func Load(path string) (*Index, error) {
	ix, _, err := ReadFile(path)
	return ix, err
}

// ReadFile reads an index file and returns it with the bytes it was
// parsed from (what Push publishes).
func ReadFile(path string) (*Index, []byte, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, nil, err
	}
	ix, err := Parse(path, data)
	if err != nil {
		return nil, nil, err
	}
	return ix, data, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, notFoundf("%s does not exist (create it with `tierpack index build`)", path)
		}
		return nil, err
	}
	defer f.Close()
	return readLimited(path, f)
}

// Marshal encodes the index as YAML, with entries, versions and tags in
// the canonical order (ix itself is not reordered).
func (ix *Index) Marshal() ([]byte, error) {
	out := *ix
	if out.APIVersion == "" {
		out.APIVersion = APIVersion
	}
	if out.Kind == "" {
		out.Kind = Kind
	}
	if out.Entries == nil {
		out.Entries = []Entry{}
	}
	out.Entries = slices.Clone(out.Entries)
	for i := range out.Entries {
		e := &out.Entries[i]
		e.Versions = slices.Clone(e.Versions)
		for j := range e.Versions {
			e.Versions[j].Tags = slices.Sorted(slices.Values(e.Versions[j].Tags))
		}
		sortVersions(e.Versions)
	}
	sortEntries(out.Entries)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&out); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Save writes the index to path atomically: the file is complete or
// untouched.
func (ix *Index) Save(path string) error {
	data, err := ix.Marshal()
	if err != nil {
		return err
	}
	return home.WriteFileAtomic(path, data, 0o644)
}

// sortEntries puts entries in the canonical order: by name, repository,
// then index.
func sortEntries(es []Entry) {
	slices.SortStableFunc(es, func(a, b Entry) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if c := strings.Compare(a.Repository, b.Repository); c != 0 {
			return c
		}
		return strings.Compare(a.Index, b.Index)
	})
}

// Named is an index and the name it is configured under.
type Named struct {
	Name  string
	Index *Index
}

// Merge combines indexes into one, setting each entry's Index to the name
// of the index it came from. A repository listed by several indexes is
// taken from the first of them that lists it, so the order of named is the
// order of precedence.
func Merge(named ...Named) *Index {
	out := New()
	seen := map[string]bool{}
	for _, n := range named {
		if n.Index == nil {
			continue
		}
		for _, e := range n.Index.Entries {
			if seen[e.Repository] {
				continue
			}
			seen[e.Repository] = true
			e.Index = n.Name
			out.Entries = append(out.Entries, e)
		}
	}
	sortEntries(out.Entries)
	return out
}
