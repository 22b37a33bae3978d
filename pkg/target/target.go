package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/tierpack/tierpack/pkg/cache"
	"github.com/tierpack/tierpack/pkg/home"
)

// Options configure how references are opened. The zero value uses the
// default local store, Docker's credential configuration, and plain HTTP
// only for loopback registries.
//
// The TLS fields (PlainHTTP, ForceTLS, CAFile, Insecure, CertFile,
// KeyFile) come from the command line and apply to every registry; they
// override the per-host Registries settings (see Settings).
type Options struct {
	// StoreDir is the embedded local store's OCI layout; empty means
	// home.New().Store().
	StoreDir string
	// PlainHTTP forces plain HTTP for every registry. Without it (and
	// without a setting for the host) loopback registries use plain HTTP
	// unless ForceTLS or a TLS field is set.
	PlainHTTP bool
	// ForceTLS disables the loopback plain-HTTP default.
	ForceTLS bool
	// CAFile is a PEM file of extra certificate authorities to trust.
	CAFile string
	// Insecure skips verifying registry certificates (Warn is told).
	Insecure bool
	// CertFile and KeyFile are a client certificate and key (mutual TLS).
	CertFile, KeyFile string
	// Registries are per-host settings, usually LoadRegistries of
	// home.RegistriesFile.
	Registries Registries
	// Warn, when set, is told about settings that weaken security
	// (Insecure).
	Warn func(format string, args ...any)
	// Credentials is the credential store; nil means RegistryConfig, else
	// Docker's config and credential helpers (shared with `docker login`
	// and `oras login`).
	Credentials credentials.Store
	// RegistryConfig is a credentials file in Docker's config.json format
	// used instead of Docker's (like oras --registry-config).
	RegistryConfig string
	// Credential, when set, is used for the registries in CredentialHosts
	// (one command's -u/--password-stdin) before the store is asked.
	Credential      auth.Credential
	CredentialHosts []string
	// HTTPClient is the base client; nil means NewHTTPClient(StallTimeout):
	// oras-go's retrying client (exponential backoff on 5xx, 429 and
	// network errors) with stalled connections cut.
	HTTPClient *http.Client
	// StallTimeout bounds silence on a registry connection; zero means
	// DefaultStallTimeout.
	StallTimeout time.Duration
	// UserAgent is sent to registries.
	UserAgent string
	// ReadOnly opens the local store with a shared lock instead of an
	// exclusive one.
	ReadOnly bool
	// NoMirror reads from the registry itself even when registries.yaml
	// names a mirror for it.
	NoMirror bool
	// Bundles are mirror bundles (see BundleFile) that stand in for the
	// registries they hold, for reading.
	Bundles []*Bundle
}

// Target is an opened reference: where to read and write, and which tag or
// digest the user named.
type Target struct {
	// Ref is the parsed reference.
	Ref Ref
	// Store reads and writes content; tags given to it are the bare tags of
	// Ref's repository.
	Store oras.GraphTarget

	// Cache, when set, keeps pulled blobs and manifests by digest so a
	// second pull of the same content reads nothing from the network.
	Cache *cache.Cache

	// Mirror is the registry reads go to instead of Ref's (a mirror from
	// registries.yaml); empty when there is none.
	Mirror string

	remote *remote.Repository
	closer io.Closer
}

// Remote returns the registry repository, or nil for local targets.
func (t *Target) Remote() *remote.Repository { return t.remote }

// Close releases the local store's lock.
func (t *Target) Close() error {
	if t.closer != nil {
		return t.closer.Close()
	}
	return nil
}

// Open opens the target a reference names.
func Open(ctx context.Context, ref Ref, opts Options) (*Target, error) {
	switch ref.Kind {
	case Local:
		dir := opts.StoreDir
		if dir == "" {
			h, err := home.New()
			if err != nil {
				return nil, err
			}
			dir = h.Store()
		}
		return openLayout(ctx, ref, dir, ref.Repository, opts.ReadOnly)
	case Layout:
		return openLayout(ctx, ref, ref.Path, "", opts.ReadOnly)
	case Remote:
		if opts.ReadOnly && !opts.NoMirror {
			if dir := bundleFor(ref, opts); dir != "" {
				return openBundle(ctx, ref, dir)
			}
		}
		return openRemote(ref, opts)
	}
	return nil, fmt.Errorf("unknown reference kind %v", ref.Kind)
}

func openLayout(ctx context.Context, ref Ref, dir, repo string, readOnly bool) (*Target, error) {
	if readOnly {
		if _, err := os.Stat(filepath.Join(dir, ocispec.ImageLayoutFile)); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				what := "OCI layout " + dir
				if ref.Kind == Local {
					what = "local store (" + dir + ")"
				}
				return nil, fmt.Errorf("%s: %w: nothing has been stored there yet", what, errdef.ErrNotFound)
			}
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating OCI layout %s: %w", dir, err)
	}
	lock, err := lockLayout(ctx, dir, readOnly)
	if err != nil {
		return nil, err
	}
	if !readOnly && home.CanLock {
		removeIngestLeftovers(dir)
	}
	store, err := openLayoutStore(ctx, dir, ref.Kind == Local, readOnly)
	if err != nil {
		lock.Close()
		return nil, err
	}
	var st oras.GraphTarget = store
	if repo != "" {
		st = &repoStore{layout: store, repo: repo}
	}
	return &Target{Ref: ref, Store: st, closer: lock}, nil
}

// removeIngestLeftovers empties dir/ingest, where oras-go's OCI layout
// streams a blob before renaming it into blobs/. The caller holds the
// layout's exclusive lock, so no tierpack writer is using the folder: what
// is there was left by one that was killed mid-push (a SIGKILL leaves the
// partial file; nothing else removes it). Best effort: the push works
// without it.
func removeIngestLeftovers(dir string) {
	ingest := filepath.Join(dir, "ingest")
	entries, _ := os.ReadDir(ingest)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(ingest, e.Name()))
	}
}

// lockWait bounds how long opening a layout waits for another writer.
var lockWait = home.DefaultLockWait

// lockLayout locks dir/.tierpack.lock: exclusive for writers, shared for
// readers. The index is rewritten whole (see layout.go), so two writers at once
// would lose each other's tags.
func lockLayout(ctx context.Context, dir string, readOnly bool) (io.Closer, error) {
	return home.Lock(ctx, filepath.Join(dir, ".tierpack.lock"), home.LockOptions{Shared: readOnly, Wait: lockWait, What: dir})
}

func openRemote(ref Ref, opts Options) (*Target, error) {
	host, mirror := ref.Registry, ""
	if m := opts.Settings(host).Mirror; m != "" && !strings.HasPrefix(m, "oci:") && opts.ReadOnly && !opts.NoMirror {
		host, mirror = m, m
	}
	repo, err := remote.NewRepository(host + "/" + ref.Repository)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrInvalidReference, ref, err)
	}
	client, plain, err := RegistryClient(host, opts)
	if err != nil {
		return nil, err
	}
	repo.Client, repo.PlainHTTP = client, plain
	// A registry that pages a listing for ever is cut off: tags at
	// MaxTagPages pages (index build lists them), referrers at
	// oci.MaxReferrerPages (set where they are listed).
	repo.TagListMaxPages = MaxTagPages
	return &Target{Ref: ref, Store: repo, remote: repo, Mirror: mirror}, nil
}

// MaxTagPages bounds the pages of one tag listing (a registry pages tags
// by 100 to 1,000: a million tags at the least).
const MaxTagPages = 1000

// DefaultCredentials opens Docker's credential configuration
// ($DOCKER_CONFIG/config.json or ~/.docker/config.json) with its credential
// helpers. Without a helper, `tierpack login` stores credentials in the file
// as Docker does.
func DefaultCredentials() (credentials.Store, error) {
	s, err := credentials.NewStoreFromDocker(credentials.StoreOptions{AllowPlaintextPut: true})
	if err != nil {
		return nil, fmt.Errorf("reading Docker credentials config: %w (fix or move ~/.docker/config.json, or set DOCKER_CONFIG)", err)
	}
	return s, nil
}

// repoStore scopes a shared OCI layout to one repository: tags are stored
// as "repo:tag" so many repositories share one blob store.
type repoStore struct {
	*layout
	repo string
}

func (s *repoStore) name(ref string) string {
	if strings.HasPrefix(ref, "sha256:") || strings.HasPrefix(ref, "sha512:") {
		return ref
	}
	return s.repo + ":" + ref
}

func (s *repoStore) Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	return s.layout.Resolve(ctx, s.name(ref))
}

func (s *repoStore) Tag(ctx context.Context, desc ocispec.Descriptor, ref string) error {
	return s.layout.Tag(ctx, desc, s.name(ref))
}

func (s *repoStore) Untag(ctx context.Context, ref string) error {
	return s.layout.Untag(ctx, s.name(ref))
}

// Tags lists the repository's tags.
func (s *repoStore) Tags(ctx context.Context, last string, fn func([]string) error) error {
	var tags []string
	err := s.layout.Tags(ctx, "", func(all []string) error {
		for _, t := range all {
			if rest, ok := strings.CutPrefix(t, s.repo+":"); ok && !strings.Contains(rest, "/") && rest > last {
				tags = append(tags, rest)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return fn(tags)
}
