package index

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ConfigFile is the file in the data folder that lists configured indexes.
const ConfigFile = "indexes.yaml"

// CacheDir is the folder in the data folder holding fetched copies of
// remote indexes, one NAME.yaml each.
const CacheDir = "indexes"

// configKind is the kind of the ConfigFile document.
const configKind = "IndexList"

// Config manages the indexes configured in a data folder. Changes are
// written atomically; two tierpack processes changing the list at the same
// moment may lose one change, never corrupt the file.
type Config struct {
	// Dir is tierpack's data folder (target.DataDir()).
	Dir string
	// Fetch says how remote indexes are reached.
	Fetch FetchOptions
}

type configDoc struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Indexes    []Source `yaml:"indexes"`
}

func (c *Config) path() string { return filepath.Join(c.Dir, ConfigFile) }

// CachePath is where the fetched copy of the index named name is kept.
func (c *Config) CachePath(name string) string {
	return filepath.Join(c.Dir, CacheDir, name+".yaml")
}

// Sources lists the configured indexes in the order they were added, which
// is their order of precedence in Merge.
func (c *Config) Sources() ([]Source, error) {
	data, err := os.ReadFile(c.path())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc configDoc
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v (fix or delete the file, then add the indexes again)", c.path(), strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if doc.APIVersion != APIVersion || doc.Kind != configKind {
		return nil, fmt.Errorf("%s: apiVersion %q, kind %q: want %s and %s (written by another tierpack version?)", c.path(), doc.APIVersion, doc.Kind, APIVersion, configKind)
	}
	return doc.Indexes, nil
}

// Source returns the configured index named name.
func (c *Config) Source(name string) (Source, error) {
	srcs, err := c.Sources()
	if err != nil {
		return Source{}, err
	}
	for _, s := range srcs {
		if s.Name == name {
			return s, nil
		}
	}
	return Source{}, c.notConfigured(name, srcs)
}

func (c *Config) notConfigured(name string, srcs []Source) error {
	if len(srcs) == 0 {
		return notFoundf("no index is named %q; none is configured (add one with `tierpack index add NAME FILE|URL|REF`)", name)
	}
	var names []string
	for _, s := range srcs {
		names = append(names, s.Name)
	}
	return notFoundf("no index is named %q; configured: %s (`tierpack index list` shows them)", name, strings.Join(names, ", "))
}

func (c *Config) save(srcs []Source) error {
	if srcs == nil {
		srcs = []Source{}
	}
	data, err := yaml.Marshal(configDoc{APIVersion: APIVersion, Kind: configKind, Indexes: srcs})
	if err != nil {
		return err
	}
	return writeFileAtomic(c.path(), data, 0o644)
}

// Add fetches src's index, checks it, caches it (for remote sources) and
// records src. A name already configured is refused.
func (c *Config) Add(ctx context.Context, src Source) (*Index, error) {
	if err := checkName(src.Name); err != nil {
		return nil, err
	}
	srcs, err := c.Sources()
	if err != nil {
		return nil, err
	}
	for _, s := range srcs {
		if s.Name == src.Name {
			return nil, fmt.Errorf("an index named %q is already configured (%s): remove it first with `tierpack index remove %s`, or choose another name", s.Name, s.Location, s.Name)
		}
	}
	ix, err := c.Update(ctx, src)
	if err != nil {
		return nil, err
	}
	if err := c.save(append(srcs, src)); err != nil {
		os.Remove(c.CachePath(src.Name))
		return nil, err
	}
	return ix, nil
}

// Remove forgets the index named name and deletes its cached copy.
func (c *Config) Remove(name string) (Source, error) {
	srcs, err := c.Sources()
	if err != nil {
		return Source{}, err
	}
	i := slices.IndexFunc(srcs, func(s Source) bool { return s.Name == name })
	if i < 0 {
		return Source{}, c.notConfigured(name, srcs)
	}
	src := srcs[i]
	if err := c.save(slices.Delete(srcs, i, i+1)); err != nil {
		return Source{}, err
	}
	if err := os.Remove(c.CachePath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return src, err
	}
	return src, nil
}

// Update fetches src's index now and, for remote sources, replaces the
// cached copy (atomically, and only with an index that parses). A file
// source is read to check it; nothing is cached for it.
func (c *Config) Update(ctx context.Context, src Source) (*Index, error) {
	ix, data, err := Fetch(ctx, src, c.Fetch)
	if err != nil {
		return nil, fmt.Errorf("index %q: %w", src.Name, err)
	}
	if src.Kind != FileSource {
		if err := writeFileAtomic(c.CachePath(src.Name), data, 0o644); err != nil {
			return nil, fmt.Errorf("index %q: caching it: %w", src.Name, err)
		}
	}
	return ix, nil
}

// Read returns src's index without going to the network: a file source's
// current content, or a remote source's cached copy.
func (c *Config) Read(src Source) (*Index, error) {
	if src.Kind == FileSource {
		ix, err := Load(src.Location)
		if err != nil {
			return nil, fmt.Errorf("index %q: %w (fix the file, or `tierpack index remove %s`)", src.Name, err, src.Name)
		}
		return ix, nil
	}
	data, err := os.ReadFile(c.CachePath(src.Name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("index %q has no cached copy: fetch it with `tierpack index update %s`", src.Name, src.Name)
	}
	if err != nil {
		return nil, err
	}
	ix, err := Parse(c.CachePath(src.Name), data)
	if err != nil {
		return nil, fmt.Errorf("index %q: %w (refresh it with `tierpack index update %s`)", src.Name, err, src.Name)
	}
	return ix, nil
}

// Updated returns when src's index was last fetched (for a file source:
// last modified), and false when it never was.
func (c *Config) Updated(src Source) (time.Time, bool) {
	p := c.CachePath(src.Name)
	if src.Kind == FileSource {
		p = src.Location
	}
	st, err := os.Stat(p)
	if err != nil {
		return time.Time{}, false
	}
	return st.ModTime(), true
}
