// Package contrib reads and checks a contribution's manifest, tierpack.yaml.
//
// The manifest is the one file every contribution has, whatever its type:
//
//	apiVersion: tierpack.dev/v1
//	name: falco-quickstart        # OCI repository name component
//	version: 0.1.0                # becomes the tag ('+' becomes '_')
//	type: script                  # the plugin that packages it
//	tier: contrib                 # contrib | repository | official
//	description: One-line summary.
//	license: Apache-2.0           # SPDX identifier
//	source:
//	  url: https://github.com/falcosecurity/contrib
//	  revision: 3f2a1c0
//	owners: OWNERS                # Kubernetes-style OWNERS file
//	authors: ["Jane Doe <jane@example.org>"]
//	files: [install.sh, README.md]  # default: every non-hidden file
//	spec: {}                      # type-specific, checked by the plugin
//
// A contribution that needs others, or a runtime, says so under requires,
// which needs apiVersion tierpack.dev/v2:
//
//	apiVersion: tierpack.dev/v2
//	requires:
//	  artifacts:                  # installed with it, each at its tier or higher
//	    - name: falco-base-rules  # an index NAME or a reference
//	      version: ">=1.0.0 <2.0.0"
//	  runtimes:                   # what the machine must run
//	    falco: ">=0.40.0"
//
// A tierpack.yaml without requires keeps apiVersion tierpack.dev/v1 (or
// none), which every tierpack reads. Older tierpack versions reject fields
// they do not know, so one that predates requires refuses a v2 manifest by
// its apiVersion — clearly, never by installing without the requirement.
//
// Errors name the file, the line, the field and what is allowed.
package contrib

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
	"github.com/tierpack/tierpack/sdk/tier"
)

// FileName is the manifest's file name inside a contribution folder.
const FileName = "tierpack.yaml"

// APIVersion is the manifest schema version tierpack init writes, and
// every tierpack reads.
const APIVersion = "tierpack.dev/v1"

// APIVersionV2 is the schema version with requires: a manifest that uses
// requires must declare it, so that an older tierpack refuses it by its
// apiVersion instead of by an unknown field.
const APIVersionV2 = "tierpack.dev/v2"

// Placeholders `tierpack init` writes for a repository-tier contribution
// when it is not told the real values. Validation refuses them, so a
// scaffold cannot be published before someone fills them in.
const (
	// PlaceholderSourceURL stands for the contribution's repository.
	PlaceholderSourceURL = "https://github.com/ORG/REPO"
	// PlaceholderOwner stands for a GitHub handle in OWNERS.
	PlaceholderOwner = "your-github-handle"
)

// IsPlaceholder reports whether s is, or holds, one of the placeholders
// tierpack init writes (or wrote in earlier versions).
func IsPlaceholder(s string) bool {
	return strings.Contains(s, "/ORG/REPO") || strings.EqualFold(strings.TrimPrefix(s, "@"), PlaceholderOwner)
}

// Manifest is a parsed tierpack.yaml.
type Manifest struct {
	APIVersion  string    `yaml:"apiVersion,omitempty" json:"apiVersion,omitempty"`
	Name        string    `yaml:"name" json:"name"`
	Version     string    `yaml:"version" json:"version"`
	Type        string    `yaml:"type" json:"type"`
	Tier        tier.Tier `yaml:"-" json:"tier"`
	TierName    string    `yaml:"tier" json:"-"`
	Description string    `yaml:"description,omitempty" json:"description,omitempty"`
	License     string    `yaml:"license,omitempty" json:"license,omitempty"`
	Source      Source    `yaml:"source,omitempty" json:"source,omitzero"`
	Owners      string    `yaml:"owners,omitempty" json:"owners,omitempty"`
	Authors     []string  `yaml:"authors,omitempty" json:"authors,omitempty"`
	Homepage    string    `yaml:"homepage,omitempty" json:"homepage,omitempty"`
	Keywords    []string  `yaml:"keywords,omitempty" json:"keywords,omitempty"`
	Files       []string  `yaml:"files,omitempty" json:"files,omitempty"`
	Requires    Requires  `yaml:"requires,omitempty" json:"requires,omitzero"`
	Spec        yaml.Node `yaml:"spec,omitempty" json:"-"`

	// Dir is the absolute path of the contribution folder.
	Dir string `yaml:"-" json:"-"`
	// Raw is the file's bytes.
	Raw []byte `yaml:"-" json:"-"`
	// lines maps a field path ("name", "source.url") to its line.
	lines map[string]int
}

// Requires is what a contribution needs besides itself: other artifacts
// (installed with it, each verified at the tier required of what depends
// on it or higher) and runtimes the machine must run. The host checks the
// version ranges (semver constraints) and carries Requires inside the
// artifact, in the dev.tierpack.requires annotation, covered by its
// digest.
type Requires struct {
	Artifacts []ArtifactRequirement `yaml:"artifacts,omitempty" json:"artifacts,omitempty"`
	// Runtimes maps a runtime's name (falco, falco-engine, kubernetes…)
	// to the versions that work, a semver constraint.
	Runtimes map[string]string `yaml:"runtimes,omitempty" json:"runtimes,omitempty"`
}

// IsZero reports whether nothing is required.
func (r Requires) IsZero() bool { return len(r.Artifacts) == 0 && len(r.Runtimes) == 0 }

// ArtifactRequirement is one artifact a contribution needs.
type ArtifactRequirement struct {
	// Name is an index NAME or a reference (without a tag: the version
	// comes from Version).
	Name string `yaml:"name" json:"name"`
	// Version is a semver constraint; empty for any version.
	Version string `yaml:"version,omitempty" json:"version,omitempty"`
}

// Source says where a contribution's code lives.
type Source struct {
	URL      string `yaml:"url,omitempty" json:"url,omitempty"`
	Revision string `yaml:"revision,omitempty" json:"revision,omitempty"`
}

// ErrInvalid is wrapped by every error about a manifest's content.
var ErrInvalid = errors.New("invalid contribution manifest")

// NoManifestError is a contribution folder without a FileName.
type NoManifestError struct{ Dir string }

func (e *NoManifestError) Error() string { return fmt.Sprintf("%s has no %s", e.Dir, FileName) }

// FieldError is one problem with one field of a manifest.
type FieldError struct {
	File    string
	Line    int
	Field   string
	Message string
}

// Error formats the problem as file:line: field: message.
func (e *FieldError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", loc, e.Message)
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Message)
}

// Unwrap lets errors.Is find ErrInvalid: a FieldError is always about the
// manifest's content.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Diagnostic converts the error to an sdk diagnostic.
func (e *FieldError) Diagnostic() sdk.Diagnostic {
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	return sdk.Diagnostic{Severity: sdk.SeverityError, File: FileName, Line: e.Line, Message: msg}
}

// Errors is every problem found in a manifest.
type Errors []*FieldError

// Error lists the problems, one per line.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is find ErrInvalid.
func (es Errors) Unwrap() error { return ErrInvalid }

var (
	nameRE   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`) })
	typeRE   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`) })
	semverRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
	})
	licenseRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[A-Za-z0-9.+-]+(?:\s+(?:AND|OR|WITH)\s+[A-Za-z0-9.+-]+)*$`)
	})
)

// IsSemver reports whether v is a semantic version (2.0.0), without a
// leading "v".
func IsSemver(v string) bool { return semverRE().MatchString(v) }

// MaxManifestSize bounds tierpack.yaml: a genuine one is a few kilobytes,
// and a huge one would cost many times its size to parse.
const MaxManifestSize = 1 << 20

// readManifest reads path, refusing more than MaxManifestSize bytes
// without reading them.
func readManifest(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, MaxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxManifestSize {
		return nil, fmt.Errorf("%w: %s is larger than the %d KiB a contribution manifest may have; keep data in the contribution's files, not in %s", ErrInvalid, path, MaxManifestSize>>10, FileName)
	}
	return raw, nil
}

// Load reads dir/tierpack.yaml and checks it. The error, if any, is Errors
// (every problem at once) or an I/O error.
func Load(dir string) (*Manifest, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("contribution folder %s does not exist", dir)
		}
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a folder: pass the contribution's folder, the one holding %s", dir, FileName)
	}
	raw, err := readManifest(filepath.Join(abs, FileName))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &NoManifestError{Dir: dir}
		}
		return nil, err
	}
	m, err := Parse(raw)
	if m != nil {
		m.Dir = abs
	}
	if err != nil {
		return m, err
	}
	if err := m.resolveFiles(); err != nil {
		return m, err
	}
	if err := m.checkTree(); err != nil {
		return m, err
	}
	return m, nil
}

// checkTree refuses a contribution whose files could not be packaged and
// pulled back: symlinks that are absolute or lead outside the folder,
// paths through symlinks, devices, sockets and named pipes, checked as
// sdk/archive packages them, among tierpack.yaml, the files and the OWNERS
// file.
func (m *Manifest) checkTree() error {
	paths := append([]string{FileName}, m.Files...)
	owners := m.Owners
	if owners == "" {
		owners = "OWNERS"
	}
	if _, err := os.Lstat(filepath.Join(m.Dir, filepath.FromSlash(owners))); err == nil {
		paths = append(paths, owners)
	}
	_, err := archive.CheckTree(m.Dir, paths)
	if errors.Is(err, archive.ErrUnsafeEntry) {
		field := ""
		if m.lines["files"] > 0 {
			field = "files"
		}
		return Errors{m.fieldErr(field, "%s; a contribution holds only regular files, folders and symlinks that stay inside it: remove it, or leave it out of files",
			strings.TrimPrefix(strings.TrimPrefix(err.Error(), archive.ErrUnsafeEntry.Error()), ": "))}
	}
	return err
}

// Parse parses and checks manifest bytes. It reports every problem at once.
func Parse(raw []byte) (*Manifest, error) {
	m := &Manifest{Raw: raw, lines: map[string]int{}}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, Errors{{File: FileName, Message: "is empty: it needs at least name, version, type and tier"}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var es Errors
	if err := dec.Decode(m); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, yamlError(err) // not YAML at all: nothing more to check
		}
		// Unknown fields and mistyped values: the rest of the manifest
		// was decoded, so check it too and report every problem at once.
		es = yamlError(err).(Errors)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err == nil {
		recordLines(&doc, "", m.lines)
	}
	typeErrLines := map[int]bool{}
	for _, e := range es {
		typeErrLines[e.Line] = true
	}
	for _, e := range m.check() {
		if e.Line > 0 && typeErrLines[e.Line] {
			continue // the value could not be decoded: already reported
		}
		es = append(es, e)
	}
	if len(es) > 0 {
		sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
		return m, es
	}
	return m, nil
}

var yamlLineRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`line (\d+): (.*)`) })

func yamlError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var es Errors
		for _, msg := range te.Errors {
			es = append(es, lineError(msg))
		}
		return es
	}
	return Errors{lineError(strings.TrimPrefix(err.Error(), "yaml: "))}
}

func lineError(msg string) *FieldError {
	e := &FieldError{File: FileName, Message: msg}
	if sm := yamlLineRE().FindStringSubmatch(msg); sm != nil {
		fmt.Sscan(sm[1], &e.Line)
		e.Message = sm[2]
		if f, ok := strings.CutPrefix(e.Message, "field "); ok {
			if name, ok := strings.CutSuffix(f, " not found in type contrib.Manifest"); ok {
				e.Field = name
				e.Message = "unknown field" + Suggest(name, manifestFields) + ": allowed are " + strings.Join(manifestFields, ", ")
			} else if name, ok := strings.CutSuffix(f, " not found in type contrib.Source"); ok {
				e.Field = "source." + name
				e.Message = "unknown field" + Suggest(name, []string{"url", "revision"}) + ": allowed are url, revision"
			}
		}
	}
	if strings.Contains(e.Message, "mapping values are not allowed") {
		// `description: Falco rule: …` reads as a map inside a value.
		e.Message += ` (a value that holds ": " must be quoted, e.g. description: "Falco rule: …")`
	}
	return e
}

// manifestFields are tierpack.yaml's top-level keys.
var manifestFields = []string{"apiVersion", "name", "version", "type", "tier", "description", "license", "source", "owners", "authors", "homepage", "keywords", "files", "requires", "spec"}

// Suggest returns ` (did you mean "X"?)` for the candidate closest to s,
// when one is close enough to be a typo; "" otherwise. tierpack.yaml's
// field and tier errors use it, and so does the host for unknown types.
func Suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD && d < len(c) {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// recordLines walks a YAML mapping and notes the line of each key path.
func recordLines(n *yaml.Node, prefix string, lines map[string]int) {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		recordLines(n.Content[0], prefix, lines)
		return
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := k.Value
		if prefix != "" {
			p = prefix + "." + k.Value
		}
		lines[p] = k.Line
		if v.Kind == yaml.SequenceNode {
			for j, item := range v.Content {
				lines[fmt.Sprintf("%s[%d]", p, j)] = item.Line
			}
		}
		if p != "spec" {
			recordLines(v, p, lines)
		}
	}
}

// Line returns the line of a field path such as "source.url", or 0.
func (m *Manifest) Line(field string) int { return m.lines[field] }

func (m *Manifest) fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{File: FileName, Line: m.lines[field], Field: field, Message: fmt.Sprintf(format, args...)}
}

func (m *Manifest) check() Errors {
	var es Errors
	add := func(field, format string, args ...any) { es = append(es, m.fieldErr(field, format, args...)) }
	switch {
	case m.APIVersion != "" && m.APIVersion != APIVersion && m.APIVersion != APIVersionV2:
		add("apiVersion", "%q is not supported: use %q (or %q for requires)", m.APIVersion, APIVersion, APIVersionV2)
	case !m.Requires.IsZero() && m.APIVersion != APIVersionV2:
		add("requires", "needs apiVersion: %s, so that older tierpack versions refuse this manifest clearly instead of by an unknown field", APIVersionV2)
	}
	for i, r := range m.Requires.Artifacts {
		if strings.TrimSpace(r.Name) == "" {
			add(fmt.Sprintf("requires.artifacts[%d]", i), "needs a name: an index NAME or a reference such as ghcr.io/org/rules")
		}
	}
	for name := range m.Requires.Runtimes {
		if !typeRE().MatchString(name) {
			add("requires.runtimes", "%q is not a runtime name: use lower-case letters, digits and '-', e.g. falco", name)
		}
	}
	switch {
	case m.Name == "":
		add("name", "is required: a lower-case name such as falco-quickstart")
	case !ValidName(m.Name):
		add("name", "%q is not allowed: use lower-case letters, digits and single '.', '_' or '-' between them (it becomes part of an OCI repository name)", m.Name)
	}
	switch {
	case m.Version == "":
		add("version", "is required: a semantic version such as 0.1.0")
	case !sdk.ValidTag(TagFor(m.Version)):
		add("version", "%q cannot be an OCI tag: use a semantic version such as 1.2.3", m.Version)
	}
	switch {
	case m.Type == "":
		add("type", "is required: script, chart, exporter, or a type an installed plugin provides (see `tierpack plugin list`)")
	case len(m.Type) > 32 || !typeRE().MatchString(m.Type):
		add("type", "%q is not allowed: use lower-case letters, digits and '-'", m.Type)
	}
	if m.TierName == "" {
		add("tier", "is required: contrib, repository or official")
	} else if t, err := tier.Parse(m.TierName); err != nil {
		add("tier", "%q is not a tier%s: use contrib, repository or official", m.TierName, Suggest(m.TierName, sdk.Tiers()))
	} else {
		m.Tier = t
	}
	if m.License != "" && !licenseRE().MatchString(m.License) {
		add("license", "%q is not an SPDX license expression, e.g. Apache-2.0 or MIT OR Apache-2.0", m.License)
	}
	switch {
	case m.Source.URL != "" && !strings.Contains(m.Source.URL, "://"):
		add("source.url", "%q is not a URL: use e.g. https://github.com/org/repo", m.Source.URL)
	case IsPlaceholder(m.Source.URL):
		add("source.url", "%q is tierpack init's placeholder: replace it with the contribution's repository URL", m.Source.URL)
	}
	if IsPlaceholder(m.Source.Revision) {
		add("source.revision", "%q is a placeholder: use the commit or tag the contribution is built from", m.Source.Revision)
	}
	for i, f := range m.Files {
		field := fmt.Sprintf("files[%d]", i)
		if err := CheckRelPath(f); err != nil {
			add(field, "%v", err)
		}
	}
	if m.Owners != "" {
		if err := CheckRelPath(m.Owners); err != nil {
			add("owners", "%v", err)
		}
	}
	return es
}

// ValidName reports whether name is a contribution name tierpack.yaml
// allows: lower-case letters and digits with single '.', '_' or '-'
// between them, at most 128 characters — never a path.
func ValidName(name string) bool { return len(name) <= 128 && nameRE().MatchString(name) }

// CheckRelPath checks that p is a clean, slash-separated path inside the
// contribution folder.
func CheckRelPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty path")
	case strings.Contains(p, `\`):
		return fmt.Errorf("%q: use '/' to separate path elements", p)
	case path.IsAbs(p) || filepath.IsAbs(p) || filepath.VolumeName(p) != "":
		return fmt.Errorf("%q is absolute: paths are relative to the contribution folder", p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return fmt.Errorf("%q leaves the contribution folder: paths must stay inside it", p)
		}
	}
	return nil
}

// TagFor returns the OCI tag for a version: '+' is not allowed in tags, so
// it becomes '_', as Helm does.
func TagFor(version string) string { return strings.ReplaceAll(version, "+", "_") }

// resolveFiles fills Files with every non-hidden top-level entry of the
// folder when the manifest lists none, and checks listed files exist.
func (m *Manifest) resolveFiles() error {
	if len(m.Files) > 0 {
		var es Errors
		for i, f := range m.Files {
			if _, err := os.Lstat(filepath.Join(m.Dir, filepath.FromSlash(f))); err != nil {
				es = append(es, m.fieldErr(fmt.Sprintf("files[%d]", i), "%q does not exist in %s", f, m.Dir))
			}
		}
		if len(es) > 0 {
			return es
		}
		return nil
	}
	entries, err := os.ReadDir(m.Dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") || n == FileName {
			continue
		}
		m.Files = append(m.Files, n)
	}
	sort.Strings(m.Files)
	return nil
}

// OwnersPath returns the contribution's OWNERS file: the one tierpack.yaml
// names, or OWNERS beside it when that exists; "" when there is none.
func (m *Manifest) OwnersPath() string {
	if m.Owners != "" {
		return filepath.Join(m.Dir, filepath.FromSlash(m.Owners))
	}
	p := filepath.Join(m.Dir, "OWNERS")
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
		return p
	}
	return ""
}

// SpecJSON returns the spec section as JSON, or nil when there is none.
func (m *Manifest) SpecJSON() ([]byte, error) {
	if m.Spec.Kind == 0 {
		return nil, nil
	}
	var v any
	if err := m.Spec.Decode(&v); err != nil {
		return nil, m.fieldErr("spec", "%v", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, m.fieldErr("spec", "cannot be represented as JSON: %v (use string keys)", err)
	}
	return b, nil
}

// Contribution returns what a plugin is told about this manifest.
func (m *Manifest) Contribution() (sdk.Contribution, error) {
	spec, err := m.SpecJSON()
	if err != nil {
		return sdk.Contribution{}, err
	}
	return sdk.Contribution{
		Name: m.Name, Version: m.Version, Type: m.Type, Tier: m.Tier.String(),
		Description: m.Description, License: m.License, Files: m.Files,
		SpecJSON: spec, ManifestYAML: m.Raw,
	}, nil
}
