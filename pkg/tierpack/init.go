package tierpack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/contrib"
	"github.com/tierpack/tierpack/sdk/tier"
)

// InitRequest asks for a new contribution folder.
type InitRequest struct {
	Dir, Type string
	// Name defaults to the folder's name; Version to 0.1.0. A plugin that
	// adopts existing content (a chart's Chart.yaml) may choose others.
	Name, Version string
	Tier          tier.Tier
	// Options are the type's own options, passed to its plugin (binary=PATH
	// for exporters).
	Options []sdk.InitOption
	// Owners are the OWNERS approvers of a repository-tier contribution and
	// SourceURL and SourceRevision its source: without them, init writes
	// placeholders that validation refuses until they are replaced.
	Owners                    []string
	SourceURL, SourceRevision string
}

// InitResult says what Init created and what to do next.
type InitResult struct {
	Dir     string `json:"dir"`
	Type    string `json:"type"`
	Name    string `json:"name"`
	Version string `json:"version"`
	// Created lists the files written; Kept those that existed and were
	// left as they were.
	Created []string `json:"created"`
	Kept    []string `json:"kept,omitempty"`
	// Scaffolded is false when the type's plugin has no starter files
	// (it does not implement Init): only tierpack.yaml was written.
	Scaffolded bool `json:"scaffolded"`
	// Notes are what the plugin and the host want the user to read.
	Notes []string `json:"notes,omitempty"`
	// Next lists the commands to run, in order, the last one
	// `tierpack validate DIR`.
	Next []string `json:"next"`
}

// InitTypes lists every type init knows: built-ins, companions and the
// plugins in the plugin folders, sorted.
func (c *Client) InitTypes() ([]string, error) {
	m, err := c.plugins()
	if err != nil {
		return nil, err
	}
	defer m.Close()
	srcs, err := m.Sources()
	if err != nil {
		return nil, err
	}
	types := slices.Clone(c.Companions)
	for _, s := range srcs {
		types = append(types, s.Type)
	}
	sort.Strings(types)
	return slices.Compact(types), nil
}

// Init creates req.Dir with a tierpack.yaml and the starter files the
// type's plugin scaffolds (sdk.Initializer), so that it validates as it is
// or after the commands in Next. It refuses a type no plugin serves, naming
// the known ones, and a folder that has a tierpack.yaml; it never
// overwrites a file.
func (c *Client) Init(ctx context.Context, req InitRequest) (*InitResult, error) {
	if (len(req.Owners) > 0 || req.SourceURL != "" || req.SourceRevision != "") && req.Tier < tier.Repository {
		return nil, usagef("{Owner}, {SourceURL} and {SourceRevision} are for the repository and official tiers: set {Tier} to repository")
	}
	types, err := c.InitTypes()
	if err != nil {
		return nil, err
	}
	if !slices.Contains(types, req.Type) {
		return nil, usagef("unknown contribution type %q%s: known types are %s (install another with `tierpack plugin install REF`)",
			req.Type, contrib.Suggest(req.Type, types), strings.Join(types, ", "))
	}
	abs, err := filepath.Abs(req.Dir)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(abs); err == nil && !st.IsDir() {
		return nil, usagef("%s is a file: init creates a folder", req.Dir)
	}
	if _, err := os.Lstat(filepath.Join(abs, contrib.FileName)); err == nil {
		return nil, fmt.Errorf("%s already has a %s; edit it instead", req.Dir, contrib.FileName)
	}
	res := &InitResult{Dir: req.Dir, Type: req.Type, Name: req.Name, Version: req.Version, Created: []string{}}
	if res.Name == "" {
		res.Name = strings.ToLower(filepath.Base(abs))
	}
	if res.Version == "" {
		res.Version = "0.1.0"
	}
	if _, err := contrib.Parse([]byte(fmt.Sprintf("name: %s\nversion: %s\ntype: %s\ntier: %s\n",
		strconv.Quote(res.Name), strconv.Quote(res.Version), strconv.Quote(req.Type), req.Tier))); err != nil {
		return nil, usagef("cannot create a contribution named %q at version %q (choose others with {Name} and {Version}):\n%v", res.Name, res.Version, err)
	}

	plugins, err := c.plugins()
	if err != nil {
		return nil, err
	}
	defer plugins.Close()
	// The plugin may read what the folder holds (a Chart.yaml) and the
	// files the options name (an exporter's --binary); the files it
	// scaffolds come back as data, written here.
	read := []string{abs}
	for _, o := range req.Options {
		if _, err := os.Stat(o.Value); err == nil {
			read = append(read, o.Value)
		}
	}
	p, err := plugins.GetFor(ctx, req.Type, plugin.Access{Read: read})
	if err != nil {
		return nil, c.pluginHint(err, req.Type)
	}
	scaffold, err := p.Init(ctx, sdk.InitRequest{Dir: abs, Name: res.Name, Version: res.Version, Tier: req.Tier.String(), Options: req.Options})
	switch {
	case errors.Is(err, sdk.ErrInitUnsupported):
		if len(req.Options) > 0 {
			return nil, usagef("the %s plugin has no starter files, so it takes no init options: run init without them", req.Type)
		}
		res.Notes = append(res.Notes, fmt.Sprintf("the %s plugin has no starter files (it does not implement Init): wrote only %s; add the type's files (%s) and its spec, see the plugin's documentation",
			req.Type, contrib.FileName, strings.Join(p.Describe().FilePatterns, ", ")))
	case err != nil:
		return nil, err
	default:
		res.Scaffolded = true
		if scaffold.Name != "" {
			res.Name = scaffold.Name
		}
		if scaffold.Version != "" {
			res.Version = scaffold.Version
		}
		res.Notes = append(res.Notes, scaffold.Notes...)
	}
	for _, f := range scaffold.Files {
		if err := contrib.CheckRelPath(f.Path); err != nil || f.Path == contrib.FileName {
			return nil, fmt.Errorf("the %s plugin's Init returned the file %q, which init does not write: report it to the plugin's authors", req.Type, f.Path)
		}
	}

	manifest := initManifest(req, res, scaffold)
	if _, err := contrib.Parse([]byte(manifest)); err != nil && !onlyPlaceholders(err, req) {
		return nil, fmt.Errorf("the tierpack.yaml init would write is invalid (the %s plugin's Init may be at fault):\n%v", req.Type, err)
	}
	files := append([]sdk.InitFile{{Path: contrib.FileName, Content: []byte(manifest)}}, scaffold.Files...)
	if req.Tier >= tier.Repository {
		files = append(files, sdk.InitFile{Path: "OWNERS", Content: []byte(ownersFile(req.Owners))})
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, err
	}
	for _, f := range files {
		p := filepath.Join(abs, filepath.FromSlash(f.Path))
		shown := filepath.Join(req.Dir, filepath.FromSlash(f.Path))
		if _, err := os.Lstat(p); err == nil {
			res.Kept = append(res.Kept, shown) // never overwrite the user's files
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return res, err
		}
		if err := writeInitFile(p, f); err != nil {
			return res, fmt.Errorf("creating %s: %w", shown, err)
		}
		res.Created = append(res.Created, shown)
	}
	if req.Tier >= tier.Repository && (len(req.Owners) == 0 || req.SourceURL == "") {
		res.Notes = append(res.Notes, "replace the placeholders in OWNERS and source.url: validation refuses them")
	}
	for _, cmd := range scaffold.Next {
		res.Next = append(res.Next, "(cd "+shellWord(req.Dir)+" && "+cmd+")")
	}
	res.Next = append(res.Next, "tierpack validate "+shellWord(req.Dir))
	return res, nil
}

// onlyPlaceholders reports whether err is only about the placeholder init
// wrote for a source URL the request did not give.
func onlyPlaceholders(err error, req InitRequest) bool {
	var es contrib.Errors
	if !errors.As(err, &es) || req.SourceURL != "" {
		return false
	}
	for _, e := range es {
		if e.Field != "source.url" {
			return false
		}
	}
	return true
}

// initManifest composes tierpack.yaml.
func initManifest(req InitRequest, res *InitResult, s sdk.InitResult) string {
	var b strings.Builder
	desc := s.Description
	if desc == "" {
		desc = "One line that says what " + res.Name + " does."
	}
	fmt.Fprintf(&b, "apiVersion: %s\nname: %s\nversion: %s\ntype: %s\ntier: %s\ndescription: %s\nlicense: Apache-2.0\n",
		contrib.APIVersion, res.Name, yamlScalar(res.Version), res.Type, req.Tier, yamlScalar(desc))
	if req.Tier >= tier.Repository {
		url, rev := req.SourceURL, req.SourceRevision
		if url == "" {
			url = contrib.PlaceholderSourceURL
		}
		if rev == "" {
			rev = "main"
		}
		fmt.Fprintf(&b, "source:\n  url: %s\n  revision: %s\nowners: OWNERS\n", yamlScalar(url), yamlScalar(rev))
	}
	if len(s.ManifestFiles) > 0 {
		b.WriteString("files:\n")
		for _, f := range s.ManifestFiles {
			fmt.Fprintf(&b, "  - %s\n", yamlScalar(f))
		}
	}
	if strings.TrimSpace(s.SpecYAML) != "" {
		b.WriteString("spec:\n")
		for _, l := range strings.SplitAfter(strings.TrimRight(s.SpecYAML, "\n")+"\n", "\n") {
			if strings.TrimSpace(l) == "" {
				b.WriteString(l)
				continue
			}
			b.WriteString("  " + l)
		}
	}
	return b.String()
}

// ownersFile is a repository-tier contribution's OWNERS.
func ownersFile(owners []string) string {
	if len(owners) == 0 {
		owners = []string{contrib.PlaceholderOwner}
	}
	var b strings.Builder
	for _, k := range []string{"approvers", "reviewers"} {
		b.WriteString(k + ":\n")
		for _, o := range owners {
			fmt.Fprintf(&b, "  - %s\n", yamlScalar(o))
		}
	}
	return b.String()
}

// yamlScalar writes s as a YAML scalar, quoted when plain style would
// change its meaning.
func yamlScalar(s string) string {
	if s == "" || strings.ContainsAny(s, ":#{}[],&*!|>'\"%@`\n") || strings.TrimSpace(s) != s ||
		s == "true" || s == "false" || s == "null" || s == "~" || strings.HasPrefix(s, "-") || strings.HasPrefix(s, "?") {
		return strconv.Quote(s)
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return strconv.Quote(s)
	}
	return s
}

// writeInitFile creates p (and its folders) from f, failing if it exists.
func writeInitFile(p string, f sdk.InitFile) error {
	mode := fs.FileMode(f.Mode).Perm()
	if mode == 0 {
		mode = 0o644
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if f.CopyFrom != "" {
		in, err := os.Open(f.CopyFrom)
		if err == nil {
			_, err = io.Copy(out, in)
			in.Close()
		}
		if err != nil {
			out.Close()
			os.Remove(p)
			return err
		}
	} else if _, err := out.Write(f.Content); err != nil {
		out.Close()
		os.Remove(p)
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(p, mode) // the umask must not drop a script's execute bit
}

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
