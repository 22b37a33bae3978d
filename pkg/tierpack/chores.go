package tierpack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	orasoci "oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/tierpack/tierpack/pkg/cache"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/tier"
	"github.com/tierpack/tierpack/sdk/contrib"
)

// CacheInfo is where the cache is and how much it holds.
type CacheInfo struct {
	Dir string `json:"dir"`
	// Blobs counts the complete entries, BlobBytes their size.
	Blobs     int64 `json:"blobs"`
	BlobBytes int64 `json:"blobBytes"`
	// Bytes is everything the cache folder holds on disk: entries,
	// packaging records, and TempBytes.
	Bytes int64 `json:"bytes"`
	// TempBytes is in packaging staging folders and partial entries: work
	// in progress, or what killed commands left (the next command that
	// finds itself alone, or cache clean, removes that).
	TempBytes int64 `json:"tempBytes"`
}

// CacheInfo measures the content-addressed cache folder: all of it, as it
// is on disk.
func (c *Client) CacheInfo() (*CacheInfo, error) {
	h, err := c.home()
	if err != nil {
		return nil, err
	}
	res := &CacheInfo{Dir: h.Cache()}
	u, err := cache.Measure(res.Dir)
	if err != nil {
		return nil, fmt.Errorf("measuring %s: %w", res.Dir, err)
	}
	res.Blobs, res.BlobBytes, res.Bytes, res.TempBytes = u.Blobs, u.BlobBytes, u.Bytes, u.TempBytes
	return res, nil
}

// CacheClean deletes the cache and returns the folder it deleted.
func (c *Client) CacheClean() (string, error) {
	h, err := c.home()
	if err != nil {
		return "", err
	}
	dir := h.Cache()
	if err := os.RemoveAll(dir); err != nil {
		return dir, fmt.Errorf("deleting %s: %w", dir, err)
	}
	return dir, nil
}

// Login checks the credentials against host and saves them in Docker's
// config (through its credential helper when one is configured).
func (c *Client) Login(ctx context.Context, host string, cred auth.Credential) error {
	reg, err := remote.NewRegistry(host)
	if err != nil {
		return &UsageError{Err: fmt.Errorf("%q is not a registry host: %w", host, err)}
	}
	reg.PlainHTTP = c.Target.PlainHTTP || (!c.Target.ForceTLS && target.IsLoopback(host))
	reg.Client = &auth.Client{Client: retry.DefaultClient, Cache: auth.NewCache()}
	store, err := target.DefaultCredentials()
	if err != nil {
		return err
	}
	if err := credentials.Login(ctx, store, reg, cred); err != nil {
		return fmt.Errorf("logging in to %s: %w", host, err)
	}
	return nil
}

// Logout forgets the credentials for host.
func (c *Client) Logout(ctx context.Context, host string) error {
	store, err := target.DefaultCredentials()
	if err != nil {
		return err
	}
	if err := credentials.Logout(ctx, store, host); err != nil {
		return fmt.Errorf("logging out of %s: %w", host, err)
	}
	return nil
}

// InitRequest asks for a new contribution folder.
type InitRequest struct {
	Dir, Type string
	// Name defaults to the folder's name.
	Name string
	Tier tier.Tier
}

// Init creates req.Dir with a tierpack.yaml and, for built-in types,
// starter files; it never overwrites a file. It returns the files created.
func (c *Client) Init(req InitRequest) ([]string, error) {
	name := req.Name
	if name == "" {
		abs, err := filepath.Abs(req.Dir)
		if err != nil {
			return nil, err
		}
		name = strings.ToLower(filepath.Base(abs))
	}
	files := starterFiles(req.Type, name, req.Tier)
	if _, err := contrib.Parse([]byte(files[contrib.FileName].body)); err != nil {
		return nil, usagef("cannot create a contribution named %q of type %q (choose a name with --name):\n%v", name, req.Type, err)
	}
	if _, err := os.Stat(filepath.Join(req.Dir, contrib.FileName)); err == nil {
		return nil, fmt.Errorf("%s already has a %s; edit it instead", req.Dir, contrib.FileName)
	}
	if err := os.MkdirAll(req.Dir, 0o755); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var created []string
	for _, n := range names {
		p := filepath.Join(req.Dir, n)
		if _, err := os.Stat(p); err == nil {
			continue // never overwrite the user's files
		} else if !errors.Is(err, os.ErrNotExist) {
			return created, err
		}
		if err := os.WriteFile(p, []byte(files[n].body), files[n].mode); err != nil {
			return created, err
		}
		created = append(created, p)
	}
	return created, nil
}

type starterFile struct {
	body string
	mode os.FileMode
}

func starterFiles(typ, name string, t tier.Tier) map[string]starterFile {
	manifest := fmt.Sprintf(`apiVersion: %s
name: %s
version: 0.1.0
type: %s
tier: %s
description: One line that says what %s does.
license: Apache-2.0
`, contrib.APIVersion, name, typ, t, name)
	if t >= tier.Repository {
		manifest += `source:
  url: https://github.com/ORG/REPO
  revision: main
owners: OWNERS
`
	}
	files := map[string]starterFile{contrib.FileName: {manifest, 0o644}}
	if t >= tier.Repository {
		files["OWNERS"] = starterFile{"approvers:\n  - your-github-handle\nreviewers:\n  - your-github-handle\n", 0o644}
	}
	if typ == "script" {
		files[contrib.FileName] = starterFile{manifest + "files:\n  - install.sh\n  - README.md\nspec:\n  entrypoint: install.sh\n", 0o644}
		files["install.sh"] = starterFile{"#!/usr/bin/env bash\n# " + name + ": what this script does.\nset -euo pipefail\n\necho \"hello from " + name + "\"\n", 0o755}
		files["README.md"] = starterFile{"# " + name + "\n\nWhat it does, how to run it, what it needs.\n\n    ./install.sh\n", 0o644}
	}
	return files
}

// LocalNames lists the local store's NAME:TAG references, for shell
// completion; none when there is no store yet.
func (c *Client) LocalNames(ctx context.Context) []string {
	h, err := c.home()
	if err != nil {
		return nil
	}
	if _, err := os.Stat(filepath.Join(h.Store(), "index.json")); err != nil {
		return nil
	}
	store, err := orasoci.NewWithContext(ctx, h.Store())
	if err != nil {
		return nil
	}
	var names []string
	_ = store.Tags(ctx, "", func(tags []string) error {
		names = append(names, tags...)
		return nil
	})
	return names
}
