package tierpack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	orasoci "oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/errcode"

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

// CacheCleanResult is the cache folder CacheClean deleted.
type CacheCleanResult struct {
	Deleted string `json:"deleted"`
}

// CacheClean deletes the cache.
func (c *Client) CacheClean() (*CacheCleanResult, error) {
	h, err := c.home()
	if err != nil {
		return nil, err
	}
	dir := h.Cache()
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("deleting %s: %w", dir, err)
	}
	return &CacheCleanResult{Deleted: dir}, nil
}

// LoginResult is a registry that accepted the credentials Login saved;
// Logout leaves Username empty.
type LoginResult struct {
	Registry string `json:"registry"`
	Username string `json:"username,omitempty"`
}

// Login checks the credentials against host and saves them in the
// credential store (Target.RegistryConfig, else Docker's config, through
// its credential helper when one is configured). Refused credentials are
// not saved: the error is a *LoginRefusedError.
func (c *Client) Login(ctx context.Context, host string, cred auth.Credential) (*LoginResult, error) {
	if err := c.login(ctx, host, cred); err != nil {
		return nil, err
	}
	return &LoginResult{Registry: host, Username: cred.Username}, nil
}

func (c *Client) login(ctx context.Context, host string, cred auth.Credential) error {
	reg, err := remote.NewRegistry(host)
	if err != nil {
		return &UsageError{Err: fmt.Errorf("%q is not a registry host (give HOST[:PORT], e.g. ghcr.io or localhost:5000): %w", host, err)}
	}
	opts, err := c.targetOptions(false)
	if err != nil {
		return err
	}
	store, err := opts.SavedCredentials()
	if err != nil {
		return err
	}
	opts.Credentials = credentials.NewMemoryStore()
	opts.Credential, opts.CredentialHosts = cred, []string{host}
	if reg.Client, reg.PlainHTTP, err = target.RegistryClient(host, opts); err != nil {
		return err
	}
	if err := reg.Ping(ctx); err != nil {
		var er *errcode.ErrorResponse
		if errors.As(err, &er) && (er.StatusCode == http.StatusUnauthorized || er.StatusCode == http.StatusForbidden) {
			return &LoginRefusedError{Host: host, User: cred.Username, Err: err}
		}
		return fmt.Errorf("logging in to %s: %w", host, err)
	}
	if err := store.Put(ctx, credentials.ServerAddressFromRegistry(host), cred); err != nil {
		return fmt.Errorf("saving the credentials for %s: %w", host, err)
	}
	return nil
}

// LoginRefusedError is a registry that refused the credentials given to
// Login; nothing was saved.
type LoginRefusedError struct {
	Host, User string
	// Err is the registry's answer (an *errcode.ErrorResponse, 401 or 403).
	Err error
}

// Error says that nothing was saved and what to check.
func (e *LoginRefusedError) Error() string {
	return fmt.Sprintf("%s refused the password of %s, so nothing was saved: check the user name and the password "+
		"(or token), then run `tierpack login %s -u %s` again", e.Host, e.User, e.Host, e.User)
}

// Unwrap returns the registry's answer.
func (e *LoginRefusedError) Unwrap() error { return e.Err }

// Logout forgets the credentials for host in the credential store
// (Target.RegistryConfig, else Docker's).
func (c *Client) Logout(ctx context.Context, host string) (*LoginResult, error) {
	opts, err := c.targetOptions(false)
	if err != nil {
		return nil, err
	}
	store, err := opts.SavedCredentials()
	if err != nil {
		return nil, err
	}
	if err := credentials.Logout(ctx, store, host); err != nil {
		return nil, fmt.Errorf("logging out of %s: %w", host, err)
	}
	return &LoginResult{Registry: host}, nil
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
