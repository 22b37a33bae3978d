package artifact

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"

	"github.com/tierpack/tierpack/internal/proc"
	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/tier"
	"github.com/tierpack/tierpack/sdk"
)

// MaxManifestSize bounds a manifest or index tierpack will read (4 MiB, the
// limit registries commonly enforce).
const MaxManifestSize = 4 << 20

// ErrExists is returned when the output folder exists and Force is off.
var ErrExists = errors.New("output folder exists")

// Helm's media types, so charts pushed by `helm push` are recognised.
const (
	HelmConfigMediaType = sdk.MediaTypeHelmConfig
	HelmChartMediaType  = sdk.MediaTypeHelmChart
)

// Info describes a resolved artifact, for inspect and pull.
type Info struct {
	Reference    string            `json:"reference"`
	Digest       string            `json:"digest"`
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Size         int64             `json:"size"`
	Tier         tier.Tier         `json:"tier"`
	Type         string            `json:"type,omitempty"`
	Name         string            `json:"name,omitempty"`
	Version      string            `json:"version,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	// Config and Layers are those of the image manifest (for an index: of
	// the platform selected, if any).
	Config *ocispec.Descriptor  `json:"config,omitempty"`
	Layers []ocispec.Descriptor `json:"layers,omitempty"`
	// Manifests lists an index's entries.
	Manifests []ocispec.Descriptor `json:"manifests,omitempty"`
	// Platform is the platform selected from an index.
	Platform *ocispec.Platform `json:"platform,omitempty"`

	root     ocispec.Descriptor
	manifest *ocispec.Manifest
}

// Root returns the descriptor of the resolved manifest or index.
func (i *Info) Root() ocispec.Descriptor { return i.root }

// Resolve resolves t's reference and reads its manifest (and, for an index,
// the manifest for platform, when platform is not nil). Every byte read is
// checked against its digest.
func Resolve(ctx context.Context, t *target.Target, platform *ocispec.Platform) (*Info, error) {
	ref := t.Ref.Reference()
	if ref == "" {
		return nil, fmt.Errorf("%s names no tag or digest: add :TAG or @sha256:…", t.Ref)
	}
	desc, err := resolveCached(t, ref)
	if err != nil {
		desc, err = t.Store.Resolve(ctx, ref)
	}
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			return nil, fmt.Errorf("%s: %w (check the name and tag; `tierpack inspect` or `oras repo tags` lists what exists)", t.Ref, errdef.ErrNotFound)
		}
		return nil, fmt.Errorf("resolving %s: %w", t.Ref, err)
	}
	info := &Info{Reference: t.Ref.String(), root: desc, Digest: desc.Digest.String(), MediaType: desc.MediaType, Size: desc.Size}
	data, err := fetchManifest(ctx, t, desc)
	if err != nil {
		return nil, err
	}
	switch desc.MediaType {
	case ocispec.MediaTypeImageIndex, sdk.MediaTypeDockerManifestList:
		var idx ocispec.Index
		if err := json.Unmarshal(data, &idx); err != nil {
			return nil, fmt.Errorf("%s: malformed image index: %w", t.Ref, err)
		}
		info.ArtifactType, info.Annotations, info.Manifests = idx.ArtifactType, idx.Annotations, idx.Manifests
		if platform != nil {
			md, err := selectPlatform(idx.Manifests, *platform)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.Ref, err)
			}
			mdata, err := fetchManifest(ctx, t, md)
			if err != nil {
				return nil, err
			}
			var m ocispec.Manifest
			if err := json.Unmarshal(mdata, &m); err != nil {
				return nil, fmt.Errorf("%s (%s): malformed manifest: %w", t.Ref, md.Digest, err)
			}
			info.setManifest(&m)
			info.Platform = md.Platform
		}
	case ocispec.MediaTypeImageManifest, sdk.MediaTypeDockerManifest:
		var m ocispec.Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("%s: malformed manifest: %w", t.Ref, err)
		}
		info.ArtifactType, info.Annotations = m.ArtifactType, m.Annotations
		if info.ArtifactType == "" {
			info.ArtifactType = m.Config.MediaType
		}
		info.setManifest(&m)
	default:
		return nil, fmt.Errorf("%s has media type %q, which is not an OCI manifest or index", t.Ref, desc.MediaType)
	}
	info.Tier, err = tier.FromAnnotations(info.Annotations)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Ref, err)
	}
	info.Type = info.Annotations[AnnotationType]
	if info.Type == "" && info.manifest != nil && info.manifest.Config.MediaType == HelmConfigMediaType {
		info.Type = "chart" // pushed by helm push: an untiered chart
	}
	info.Name = info.Annotations[AnnotationName]
	if info.Name == "" {
		info.Name = info.Annotations[ocispec.AnnotationTitle]
	}
	info.Version = info.Annotations[ocispec.AnnotationVersion]
	return info, nil
}

func (i *Info) setManifest(m *ocispec.Manifest) {
	i.manifest = m
	cfg := m.Config
	i.Config = &cfg
	i.Layers = m.Layers
	for k, v := range m.Annotations {
		if i.Annotations == nil {
			i.Annotations = map[string]string{}
		}
		if _, ok := i.Annotations[k]; !ok {
			i.Annotations[k] = v
		}
	}
}

// resolveCached resolves a digest reference from the cache alone, so a
// pull by digest of cached content needs no network at all.
func resolveCached(t *target.Target, ref string) (ocispec.Descriptor, error) {
	d, err := digest.Parse(ref)
	if t.Cache == nil || err != nil {
		return ocispec.Descriptor{}, errdef.ErrNotFound
	}
	data, err := t.Cache.GetByDigest(d)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	var probe struct {
		MediaType string `json:"mediaType"`
	}
	if json.Unmarshal(data, &probe) != nil || probe.MediaType == "" {
		return ocispec.Descriptor{}, errdef.ErrNotFound
	}
	return ocispec.Descriptor{MediaType: probe.MediaType, Digest: d, Size: int64(len(data))}, nil
}

func fetchManifest(ctx context.Context, t *target.Target, desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size > MaxManifestSize {
		return nil, fmt.Errorf("%s: manifest %s is %d bytes, more than the %d tierpack reads", t.Ref, desc.Digest, desc.Size, MaxManifestSize)
	}
	if t.Cache != nil {
		if data, err := t.Cache.Get(desc); err == nil {
			return data, nil
		}
	}
	var data []byte
	err := withRetry(ctx, 0, func() (err error) {
		data, err = content.FetchAll(ctx, t.Store, desc)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: fetching manifest %s: %w", t.Ref, desc.Digest, err)
	}
	if t.Cache != nil {
		_ = t.Cache.PutBytes(desc, data) // a cache that cannot be written is only slower
	}
	return data, nil
}

// CurrentPlatform is the platform tierpack runs on.
func CurrentPlatform() ocispec.Platform {
	return ocispec.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
}

func selectPlatform(ms []ocispec.Descriptor, want ocispec.Platform) (ocispec.Descriptor, error) {
	var have []string
	for _, m := range ms {
		if m.Platform == nil {
			continue
		}
		have = append(have, m.Platform.OS+"/"+m.Platform.Architecture)
		if m.Platform.OS == want.OS && m.Platform.Architecture == want.Architecture &&
			(want.Variant == "" || m.Platform.Variant == want.Variant) {
			return m, nil
		}
	}
	return ocispec.Descriptor{}, fmt.Errorf("no manifest for platform %s/%s; it has %s (choose one with --platform)",
		want.OS, want.Architecture, strings.Join(have, ", "))
}

// PullOptions tune Pull.
type PullOptions struct {
	// OutputDir is where the contribution goes; empty means ./NAME where
	// NAME is the last element of the repository.
	OutputDir string
	// MinTier refuses artifacts below it; None accepts everything.
	MinTier tier.Tier
	// Force replaces an existing, non-empty OutputDir (atomically).
	Force bool
	// Platform selects from an index; nil means the current platform.
	Platform *ocispec.Platform
	// AllPlatforms pulls every platform of an image index instead of one,
	// each into the subfolder of OutputDir that PlatformDir names, with one
	// Unpack call per platform. Platform must be nil, and a single-platform
	// artifact is refused.
	AllPlatforms bool
	// Options are passed to the plugin's Unpack.
	Options map[string]string
	// Concurrency bounds parallel blob downloads; zero means DefaultConcurrency.
	Concurrency int
	// Progress, if set, is told about each blob.
	Progress Progress
	// Attempts bounds tries per blob; zero means DefaultAttempts.
	Attempts int
	// Check, if set, runs after the tier check and before any blob is
	// fetched; an error stops the pull (signature and policy checks).
	Check func(ctx context.Context, info *Info) error
}

// PullResult reports what Pull wrote.
type PullResult struct {
	Info      *Info    `json:"artifact"`
	OutputDir string   `json:"outputDir"`
	Files     []string `json:"files"`
	// Platforms lists the subfolders an AllPlatforms pull wrote, in the
	// index's order.
	Platforms []string `json:"platforms,omitempty"`
}

// Pull fetches the artifact t names, checks its tier, and has its type's
// plugin unpack it into opts.OutputDir. The folder appears complete or not
// at all: everything happens in a staging folder beside it that is renamed
// into place last; on failure the staging folder is removed and any previous
// content of OutputDir is left as it was.
func Pull(ctx context.Context, plugins *plugin.Manager, t *target.Target, opts PullOptions) (*PullResult, error) {
	res, err := pullOnce(ctx, plugins, t, opts)
	if errors.Is(err, errCacheCorrupt) {
		// The corrupt entries are gone now: this time they are downloaded.
		res, err = pullOnce(ctx, plugins, t, opts)
	}
	return res, err
}

// errCacheCorrupt reports a cache entry that failed its digest check while
// it was being unpacked; the entry has been removed.
var errCacheCorrupt = errors.New("a cache entry was corrupt and has been removed")

func pullOnce(ctx context.Context, plugins *plugin.Manager, t *target.Target, opts PullOptions) (*PullResult, error) {
	if opts.AllPlatforms && opts.Platform != nil {
		return nil, errors.New("pull one platform or all of them, not both")
	}
	var plat *ocispec.Platform
	if !opts.AllPlatforms {
		plat = opts.Platform
		if plat == nil {
			p := CurrentPlatform()
			plat = &p
		}
	}
	info, err := Resolve(ctx, t, plat)
	if err != nil {
		return nil, err
	}
	if err := tier.Require(t.Ref.String(), info.Tier, opts.MinTier); err != nil {
		return nil, err
	}
	if opts.Check != nil {
		if err := opts.Check(ctx, info); err != nil {
			return nil, err
		}
	}
	if info.Type == "" {
		return nil, fmt.Errorf("%s is not a tierpack artifact: it has no %s annotation (artifactType %q); fetch it with `oras pull` instead",
			t.Ref, AnnotationType, info.ArtifactType)
	}
	units := []unpackUnit{{manifest: info.manifest, annotations: info.Annotations, platform: info.Platform}}
	if opts.AllPlatforms {
		if units, err = platformUnits(ctx, t, info); err != nil {
			return nil, err
		}
	} else if info.manifest == nil {
		return nil, fmt.Errorf("%s is an index without a manifest for %s/%s", t.Ref, plat.OS, plat.Architecture)
	}
	out := opts.OutputDir
	if out == "" {
		repo := t.Ref.Repository
		if repo == "" {
			repo = info.Name
		}
		out = path.Base(repo)
	}
	out, err = filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	if err := checkOutput(out, opts.Force); err != nil {
		return nil, err
	}
	// Start the plugin while the blobs download: neither waits for the other.
	type started struct {
		p   *plugin.Plugin
		err error
	}
	pluginCh := make(chan started, 1)
	go func() {
		p, err := plugins.Get(ctx, info.Type)
		pluginCh <- started{p, err}
	}()
	getPlugin := func() (*plugin.Plugin, error) {
		s := <-pluginCh
		pluginCh <- s
		if s.err != nil {
			return nil, fmt.Errorf("%s is of type %q: %w", t.Ref, info.Type, s.err)
		}
		return s.p, nil
	}
	defer getPlugin() // never leave the goroutine behind

	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	recoverStale(parent)
	staging, err := os.MkdirTemp(parent, fmt.Sprintf("%s%d-", stagingPrefix, os.Getpid()))
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(staging)
	// Blobs go to the cache when there is one (the plugin reads them there,
	// read-only), else to the staging folder.
	blobsDir := filepath.Join(staging, "blobs")
	if t.Cache != nil {
		blobsDir = filepath.Join(t.Cache.Dir(), "blobs")
	}
	unpackDir := filepath.Join(staging, "out")
	for _, d := range []string{blobsDir, unpackDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}

	// Every platform's blobs are fetched first (each once: platforms may
	// share layers), then each is unpacked into its own folder.
	var fetch []ocispec.Descriptor
	reqs := make([]sdk.UnpackRequest, len(units))
	for i, u := range units {
		req := sdk.UnpackRequest{BlobsDir: blobsDir, Annotations: u.annotations, OutputDir: unpackDir, Options: opts.Options}
		if u.dir != "" {
			req.OutputDir = filepath.Join(unpackDir, u.dir)
			if err := os.Mkdir(req.OutputDir, 0o755); err != nil {
				return nil, err
			}
		}
		if cfg := u.manifest.Config; cfg.MediaType != ocispec.MediaTypeEmptyJSON {
			fetch = append(fetch, cfg)
			b := sdkBlob(cfg, u.platform)
			req.Config = &b
		}
		for _, l := range u.manifest.Layers {
			if l.MediaType == ocispec.MediaTypeEmptyJSON {
				continue
			}
			fetch = append(fetch, l)
			req.Layers = append(req.Layers, sdkBlob(l, u.platform))
		}
		reqs[i] = req
	}
	hits, err := fetchBlobs(ctx, t, fetch, blobsDir, opts)
	if err != nil {
		return nil, err
	}
	// Cache hits are checked against their digests while the plugin
	// unpacks them (reading twice in parallel, not in turn); the output is
	// renamed into place only if every check passed.
	verified := make(chan error, 1)
	go func() {
		var errs []error
		for _, d := range hits {
			if err := verifyCached(t, d); err != nil {
				errs = append(errs, err)
			}
		}
		verified <- errors.Join(errs...)
	}()
	waitVerified := func() error {
		err := <-verified
		verified <- err
		if err != nil {
			return fmt.Errorf("%w: %v", errCacheCorrupt, err)
		}
		return nil
	}
	defer waitVerified()
	p, err := getPlugin()
	if err != nil {
		return nil, err
	}
	result := &PullResult{Info: info, OutputDir: out}
	for i, u := range units {
		res, err := p.Unpack(ctx, reqs[i])
		if err != nil {
			if verr := waitVerified(); verr != nil {
				return nil, verr // the plugin choked on a corrupt cache entry
			}
			if u.dir != "" {
				return nil, fmt.Errorf("%s: %w", u.dir, err)
			}
			return nil, err
		}
		for _, f := range res.Files {
			if u.dir != "" {
				f = u.dir + "/" + f
			}
			result.Files = append(result.Files, f)
		}
		if u.dir != "" {
			result.Platforms = append(result.Platforms, u.dir)
		}
	}
	if err := waitVerified(); err != nil {
		return nil, err
	}
	if err := replaceDir(unpackDir, out, opts.Force); err != nil {
		return nil, err
	}
	return result, nil
}

// unpackUnit is one manifest to unpack: the artifact's, or one platform's
// of an index in an AllPlatforms pull.
type unpackUnit struct {
	// dir is the subfolder of the output, "" for the output itself.
	dir         string
	manifest    *ocispec.Manifest
	annotations map[string]string
	platform    *ocispec.Platform
}

// platformUnits reads every platform manifest of the index info describes.
// Entries without a real platform (nil, or unknown/unknown as BuildKit
// marks attestations) are not platforms and are left out.
func platformUnits(ctx context.Context, t *target.Target, info *Info) ([]unpackUnit, error) {
	if info.root.MediaType != ocispec.MediaTypeImageIndex && info.root.MediaType != sdk.MediaTypeDockerManifestList {
		return nil, fmt.Errorf("%s is a single-platform artifact, not an image index: pull it without --all-platforms", t.Ref)
	}
	var units []unpackUnit
	seen := map[string]bool{}
	for _, md := range info.Manifests {
		if md.Platform == nil || md.Platform.OS == "unknown" {
			continue
		}
		if md.MediaType != ocispec.MediaTypeImageManifest && md.MediaType != sdk.MediaTypeDockerManifest {
			return nil, fmt.Errorf("%s: the %s/%s entry has media type %q; tierpack unpacks image manifests, not nested indexes", t.Ref, md.Platform.OS, md.Platform.Architecture, md.MediaType)
		}
		dir, err := PlatformDir(*md.Platform)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Ref, err)
		}
		if seen[dir] {
			return nil, fmt.Errorf("%s lists platform %s twice; pull one with --platform", t.Ref, dir)
		}
		seen[dir] = true
		data, err := fetchManifest(ctx, t, md)
		if err != nil {
			return nil, err
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("%s (%s): malformed manifest: %w", t.Ref, md.Digest, err)
		}
		ann := map[string]string{}
		for k, v := range m.Annotations {
			ann[k] = v
		}
		for k, v := range info.Annotations {
			ann[k] = v // the index's win, as in Resolve
		}
		units = append(units, unpackUnit{dir: dir, manifest: &m, annotations: ann, platform: md.Platform})
	}
	if len(units) == 0 {
		return nil, fmt.Errorf("%s is an index that lists no platforms", t.Ref)
	}
	return units, nil
}

// platformPart is what an OS, architecture or variant may be in a folder
// name: they come from the registry, so they must not be able to name a
// path such as "..".
var platformPart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._]*$`)

// PlatformDir names a platform as one folder, OS-ARCH[-VARIANT] (for
// example linux-amd64 or linux-arm-v7): where an AllPlatforms pull unpacks
// it. Values that cannot be part of a folder name are refused.
func PlatformDir(p ocispec.Platform) (string, error) {
	parts := []string{p.OS, p.Architecture}
	if p.Variant != "" {
		parts = append(parts, p.Variant)
	}
	for _, s := range parts {
		if !platformPart.MatchString(s) {
			return "", fmt.Errorf("platform %q/%q/%q cannot name a folder: the index is malformed", p.OS, p.Architecture, p.Variant)
		}
	}
	return strings.Join(parts, "-"), nil
}

func sdkBlob(d ocispec.Descriptor, p *ocispec.Platform) sdk.Blob {
	b := sdk.Blob{MediaType: d.MediaType, Path: blobPath(d.Digest), Annotations: d.Annotations, Digest: d.Digest.String(), Size: d.Size}
	if p != nil {
		b.Platform = &sdk.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
	}
	return b
}

func checkOutput(out string, force bool) error {
	entries, err := os.ReadDir(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		if st, serr := os.Stat(out); serr == nil && !st.IsDir() {
			return fmt.Errorf("%w: %s is a file, not a folder; choose another with -o", ErrExists, out)
		}
		return err
	case len(entries) > 0 && !force:
		return fmt.Errorf("%w: %s is not empty; pass --force to replace it, or choose another folder with -o", ErrExists, out)
	}
	return nil
}

// replaceDir moves src to dst. An existing dst is moved aside first and
// removed only after src is in place, so dst is never half-written.
func replaceDir(src, dst string, force bool) error {
	if err := checkOutput(dst, force); err != nil {
		return err
	}
	var aside string
	if _, err := os.Lstat(dst); err == nil {
		aside = filepath.Join(filepath.Dir(dst), fmt.Sprintf("%s%d-%s-%s", asidePrefix, os.Getpid(), randSuffix(), filepath.Base(dst)))
		if err := os.Rename(dst, aside); err != nil {
			return fmt.Errorf("moving the old %s aside: %w", dst, err)
		}
	}
	if err := os.Rename(src, dst); err != nil {
		if aside != "" {
			_ = os.Rename(aside, dst)
		}
		return fmt.Errorf("moving the pulled content into %s: %w", dst, err)
	}
	if aside != "" {
		_ = os.RemoveAll(aside)
	}
	return nil
}

// Names of the folders a pull makes beside its output; they carry the pid
// of the process so a later pull can tell a killed pull's leftovers from
// one still running.
const (
	stagingPrefix = ".tierpack-pull-"
	asidePrefix   = ".tierpack-old-"
)

// recoverStale cleans up after pulls that were killed in parent: their
// staging folders are removed, and a previous output that was moved aside
// for replacement is put back if its replacement never arrived.
func recoverStale(parent string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, stagingPrefix):
			if pid := proc.PidFromName(name, stagingPrefix); pid > 0 && !proc.Alive(pid) {
				os.RemoveAll(filepath.Join(parent, name))
			}
		case strings.HasPrefix(name, asidePrefix):
			pid := proc.PidFromName(name, asidePrefix)
			if pid <= 0 || proc.Alive(pid) {
				continue
			}
			// .tierpack-old-PID-RAND-BASE: restore BASE if it is missing.
			parts := strings.SplitN(name, "-", 5)
			if len(parts) < 5 {
				continue
			}
			orig := filepath.Join(parent, parts[4])
			if _, err := os.Lstat(orig); os.IsNotExist(err) {
				_ = os.Rename(filepath.Join(parent, name), orig)
			} else {
				os.RemoveAll(filepath.Join(parent, name))
			}
		}
	}
}

func randSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// blobPath is where a blob lives below a blobs folder, as in an OCI layout.
func blobPath(d digest.Digest) string { return d.Algorithm().String() + "/" + d.Encoded() }

func fetchBlobs(ctx context.Context, t *target.Target, descs []ocispec.Descriptor, dir string, opts PullOptions) ([]ocispec.Descriptor, error) {
	conc := opts.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	seen := map[digest.Digest]bool{}
	var mu sync.Mutex
	var hits []ocispec.Descriptor
	for _, d := range descs {
		if seen[d.Digest] {
			continue
		}
		seen[d.Digest] = true
		g.Go(func() error {
			hit, err := fetchBlob(gctx, t, d, dir, opts)
			if hit {
				mu.Lock()
				hits = append(hits, d)
				mu.Unlock()
			}
			return err
		})
	}
	return hits, g.Wait()
}

// fetchBlob makes d available at dir/blobPath(d), verified: from the cache
// if it holds d (checked again as it is read), else from the target, with
// retries for transient failures. Content only appears under its digest
// once it has been verified.
func fetchBlob(ctx context.Context, t *target.Target, d ocispec.Descriptor, dir string, opts PullOptions) (cached bool, err error) {
	if err := d.Digest.Validate(); err != nil {
		return false, fmt.Errorf("%s: layer has an invalid digest %q: %w", t.Ref, d.Digest, err)
	}
	progress := opts.Progress
	if t.Cache != nil && t.Cache.Has(d) {
		if progress != nil {
			progress.Start(d, true)
			progress.Done(d, nil)
		}
		return true, nil // verified by the caller, alongside unpacking
	}
	if progress != nil {
		progress.Start(d, false)
		defer func() { progress.Done(d, err) }()
	}
	err = withRetry(ctx, opts.Attempts, func() error {
		rc, err := t.Store.Fetch(ctx, d)
		if err != nil {
			return err
		}
		defer rc.Close()
		var r io.Reader = rc
		if progress != nil {
			r = progress.Wrap(d, r)
		}
		if t.Cache != nil {
			return t.Cache.PutReader(d, r)
		}
		return writeVerified(filepath.Join(dir, blobPath(d.Digest)), d, r)
	})
	if err != nil {
		return false, fmt.Errorf("%s: fetching %s: %w", t.Ref, d.Digest, err)
	}
	return false, nil
}

// verifyCached re-reads a cache entry against its digest; a corrupt entry
// is removed.
func verifyCached(t *target.Target, d ocispec.Descriptor) error {
	r, err := t.Cache.Open(d)
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	return r.Verify()
}

// writeVerified writes r to path through a temporary file, renaming it into
// place only when the content matches d.
func writeVerified(path string, d ocispec.Descriptor, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".part-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	vr := content.NewVerifyReader(r, d)
	_, err = io.Copy(f, vr)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = vr.Verify()
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
