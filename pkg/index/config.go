package index

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tierpack/tierpack/pkg/home"
)

// ConfigFile is the file in the data folder that lists configured indexes
// (home.Home.IndexConfig).
const ConfigFile = "indexes.yaml"

// CacheDir is the folder in the data folder holding fetched copies of
// remote indexes, one NAME.yaml each (home.Home.Indexes).
const CacheDir = "indexes"

// configKind is the kind of the ConfigFile document.
const configKind = "IndexList"

// Config manages the indexes configured in a data folder. Changes are
// written atomically and made under a lock, so two tierpack processes
// changing the list at the same moment neither corrupt the file nor lose a
// change.
type Config struct {
	// Dir is tierpack's data folder (home.Home.Root).
	Dir string
	// Fetch says how remote indexes are reached.
	Fetch FetchOptions
}

type configDoc struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Indexes    []Source `yaml:"indexes"`
}

func (c *Config) path() string { return home.At(c.Dir).IndexConfig() }

// CachePath is where the fetched copy of the index named name is kept.
func (c *Config) CachePath(name string) string { return home.At(c.Dir).IndexCopy(name) }

// modify changes the list of sources under the lock that keeps concurrent
// changes from losing each other: change sees the list as it is now.
func (c *Config) modify(ctx context.Context, change func([]Source) ([]Source, error)) error {
	lock, err := home.Lock(ctx, c.path()+".lock", home.LockOptions{What: c.path()})
	if err != nil {
		return err
	}
	defer lock.Close()
	srcs, err := c.Sources()
	if err != nil {
		return err
	}
	if srcs, err = change(srcs); err != nil {
		return err
	}
	return c.save(srcs)
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
	return home.WriteFileAtomic(c.path(), data, 0o644)
}

// Add fetches src's index, checks it, caches it (for remote sources) and
// records src. A name already configured is refused.
func (c *Config) Add(ctx context.Context, src Source) (*Index, error) {
	if err := checkName(src.Name); err != nil {
		return nil, err
	}
	taken := func(srcs []Source) error {
		for _, s := range srcs {
			if s.Name == src.Name {
				return fmt.Errorf("an index named %q is already configured (%s): remove it first with `tierpack index remove %s`, or choose another name", s.Name, s.Location, s.Name)
			}
		}
		return nil
	}
	srcs, err := c.Sources()
	if err != nil {
		return nil, err
	}
	if err := taken(srcs); err != nil {
		return nil, err // before fetching anything
	}
	ix, err := c.Update(ctx, src)
	if err != nil {
		return nil, err
	}
	err = c.modify(ctx, func(srcs []Source) ([]Source, error) {
		if err := taken(srcs); err != nil {
			return nil, err // added meanwhile by another process
		}
		return append(srcs, src), nil
	})
	if err != nil {
		os.Remove(c.CachePath(src.Name))
		return nil, err
	}
	return ix, nil
}

// Remove forgets the index named name and deletes its cached copy.
func (c *Config) Remove(name string) (Source, error) {
	var src Source
	err := c.modify(context.Background(), func(srcs []Source) ([]Source, error) {
		i := slices.IndexFunc(srcs, func(s Source) bool { return s.Name == name })
		if i < 0 {
			return nil, c.notConfigured(name, srcs)
		}
		src = srcs[i]
		return slices.Delete(srcs, i, i+1), nil
	})
	if err != nil {
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
		if err := home.WriteFileAtomic(c.CachePath(src.Name), data, 0o644); err != nil {
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
