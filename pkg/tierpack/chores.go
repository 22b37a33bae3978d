package tierpack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	orasoci "oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/tierpack/tierpack/pkg/cache"
	"github.com/tierpack/tierpack/pkg/target"
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
