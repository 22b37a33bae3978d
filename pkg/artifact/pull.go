package artifact

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2/content"

	"github.com/tierpack/tierpack/internal/fileid"
	"github.com/tierpack/tierpack/internal/proc"
	"github.com/tierpack/tierpack/pkg/home"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
	"github.com/tierpack/tierpack/sdk/falco"
	"github.com/tierpack/tierpack/sdk/tier"
)

// ErrExists is returned when the output folder exists and Force is off.
var ErrExists = errors.New("output folder exists")

// ExistsError is an output that cannot be written as asked: a file where
// the folder should be, or a folder that is not empty (and Force is off).
type ExistsError struct {
	Path string
	// File is set when Path is a file, not a folder.
	File bool
}

func (e *ExistsError) Error() string {
	if e.File {
		return fmt.Sprintf("%s: %s is a file, not a folder", ErrExists, e.Path)
	}
	return fmt.Sprintf("%s: %s is not empty", ErrExists, e.Path)
}

// Unwrap returns ErrExists.
func (e *ExistsError) Unwrap() error { return ErrExists }

// ErrRefusedContent is wrapped by Pull's errors for an artifact whose
// content was refused: a layer with an unsafe entry (archive.ErrUnsafeEntry),
// a corrupt or mislabelled layer (archive.ErrCorrupt), or more than the
// pull's limits allow (archive.ErrTooLarge). The error wraps the archive
// error too. Nothing of the artifact is left on disk.
var ErrRefusedContent = errors.New("pulled artifact refused")

// ErrPluginOutput is wrapped when what a plugin produced is refused: a
// manifest its Package would make too large to pull (Packed.checkSize), or
// what its Unpack wrote (checkPluginOutput): a link leading out of the output, a device, FIFO or
// socket, a setuid, setgid or sticky file, a group- or world-writable one,
// or more than the pull's budget. Whatever the artifact holds, a plugin
// that writes these misbehaves; nothing of it reaches the output folder.
var ErrPluginOutput = errors.New("plugin output refused")

// Info describes a resolved artifact, for inspect and pull: oci.Info, and
// what pull and promotion keep of it.
type Info struct {
	oci.Info
	// Tier is the tier the artifact claims (its annotation); tier.None
	// when it has none.
	Tier tier.Tier `json:"tier"`
	// Falcoctl is set for one of Falco's own artifacts, in falcoctl's
	// format (see falcoctl.go); Type is then falcoctl's artifact type.
	Falcoctl bool `json:"falcoctl,omitempty"`

	root     ocispec.Descriptor
	manifest *ocispec.Manifest
	// falcoctlManifest is the manifest whose config a falcoctl artifact's
	// metadata is read from (for a plugin, its index's first).
	falcoctlManifest *ocispec.Manifest
}

// Root returns the descriptor of the resolved manifest or index.
func (i *Info) Root() ocispec.Descriptor { return i.root }

// Resolve resolves t's reference and reads its manifest (and, for an index,
// the manifest for platform, when platform is not nil). Every byte read is
// checked against its digest. See oci.Resolve.
func Resolve(ctx context.Context, t *target.Target, platform *ocispec.Platform) (*Info, error) {
	i, err := oci.Resolve(ctx, t, platform)
	if err != nil {
		return nil, err
	}
	claimed, err := tier.FromAnnotations(i.Annotations)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Ref, err)
	}
	info := &Info{Info: *i, Tier: claimed, root: i.Root(), manifest: i.Manifest()}
	if info.Type == "" {
		// One of falcoctl's? Its layer says; a plugin's index is judged
		// by its first manifest.
		m := info.manifest
		if m == nil && len(info.Manifests) > 0 && info.Manifests[0].MediaType == ocispec.MediaTypeImageManifest {
			m, _ = oci.FetchImageManifest(ctx, t, info.Manifests[0])
		}
		if typ := falcoctlType(m); typ != "" {
			info.Type, info.Falcoctl, info.falcoctlManifest = typ, true, m
		}
	}
	return info, nil
}

// fetchManifest reads small JSON content of t (a manifest, an index, an
// image config), size-limited, verified and cached: see oci.FetchManifest.
func fetchManifest(ctx context.Context, t *target.Target, desc ocispec.Descriptor) ([]byte, error) {
	return oci.FetchManifest(ctx, t, desc)
}

// PullOptions tune Pull.
type PullOptions struct {
	// OutputDir is where the contribution goes; empty means ./NAME where
	// NAME is the last element of the repository.
	OutputDir string
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
	Progress oci.Progress
	// Attempts bounds tries per blob; zero means DefaultAttempts.
	Attempts int
	// Resolved is the artifact as already resolved — and checked by the
	// caller's trust gate — for this pull; nil resolves the target with
	// Platform. It must have been resolved with the same Platform (nil for
	// AllPlatforms), so that what is pulled is exactly what was checked.
	Resolved *Info
	// Limits bound what the whole pull writes — every layer of every
	// platform together, as one budget — and zero fields select the
	// defaults (archive.DefaultMaxTotalSize and the others). The plugin is
	// given what remains of it in each Unpack request; what it wrote is
	// measured afterwards, so a plugin that ignores the budget is caught
	// too. Exceeding it fails with ErrRefusedContent and archive.ErrTooLarge.
	Limits archive.Limits
	// HostUnpack, if set, is the type's Unpack run in this process: the
	// standard archive extraction of a built-in type (tierpack's own code,
	// sdk.UnpackLayers), so no plugin process is started and no plugin
	// code sees the bytes.
	HostUnpack func(context.Context, sdk.UnpackRequest) (sdk.UnpackResult, error)
	// HostFormats, set with HostUnpack, says that it is the standard
	// extraction of these layer media types: a one-layer pull is then
	// streamed (see stream.go).
	HostFormats map[string]archive.Format
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

// Pull fetches the artifact t names and has its type's plugin unpack it
// into opts.OutputDir; whether it may be pulled at all (its tier) is the
// caller's trust gate's decision, made before. The folder appears complete or not
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
	info, units, err := resolveForPull(ctx, t, opts)
	if err != nil {
		return nil, err
	}
	out, err := outputDir(t, info, opts)
	if err != nil {
		return nil, err
	}
	st, err := newStaging(ctx, out, t)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(st.dir)
	// Start the plugin while the blobs download: neither waits for the
	// other. It may read the blobs and write the staging output, no more.
	var unpack func(context.Context, sdk.UnpackRequest) (sdk.UnpackResult, error)
	var pluginErr error
	var started sync.WaitGroup
	name := "tierpack's falcoctl unpacker"
	var formats map[string]archive.Format // the in-process unpack's, for streaming
	switch {
	case info.Falcoctl:
		unpack, formats = falco.UnpackLayers, falco.LayerFormats // the host knows falcoctl's format: no plugin
	case opts.HostUnpack != nil:
		unpack, formats, name = opts.HostUnpack, opts.HostFormats, "tierpack's built-in "+info.Type+" unpacker"
	case standardUnpack(plugins, info.Type):
		// The installed plugin declared, when it was probed, that its
		// Unpack is the standard extraction: do it here, start nothing.
		unpack = func(ctx context.Context, req sdk.UnpackRequest) (sdk.UnpackResult, error) {
			return sdk.UnpackLayers(ctx, req, archive.Limits{})
		}
		formats = sdk.StandardFormats
		name = "tierpack's standard extraction (declared by plugin " + strconv.Quote(info.Type) + ")"
	default:
		started.Go(func() {
			var p *plugin.Plugin
			if p, pluginErr = plugins.GetFor(ctx, info.Type, plugin.Access{Read: []string{st.blobs}, Write: []string{st.out}}); pluginErr == nil {
				unpack = p.Unpack
				name = p.Source.Name()
			}
		})
	}
	defer started.Wait() // never leave the goroutine behind
	reqs, fetch, err := st.requests(units, opts.Options)
	if err != nil {
		return nil, err
	}
	if layer, ok := streamLayer(t, units, formats); ok {
		slog.Debug("one pass: the layer is extracted as it downloads", "layer", layer.Digest.String(), "size", layer.Size)
		result, err := st.unpackStreamed(ctx, t, layer, formats[layer.MediaType], name, opts)
		switch {
		case errors.Is(err, errStreamRetry):
			slog.Debug("the streamed download failed once: downloading, then extracting", "layer", layer.Digest.String())
			if err := st.resetOutput(); err != nil {
				return nil, err
			}
		case err != nil:
			if errors.Is(err, ErrRefusedContent) {
				forgetRefused(t, info, fetch)
			}
			return nil, err
		default:
			return st.finish(ctx, result, info, out, opts)
		}
	}
	hits, err := fetchBlobs(ctx, t, fetch, st.blobs, opts)
	if err != nil {
		return nil, err
	}
	// Cache hits are checked against their digests while the plugin
	// unpacks them (reading twice in parallel, not in turn); the output is
	// renamed into place only if every check passed.
	var verifyErr error
	var verified sync.WaitGroup
	verified.Go(func() { verifyErr = verifyCached(t, hits) })
	defer verified.Wait()

	started.Wait()
	if pluginErr != nil {
		return nil, fmt.Errorf("%s is of type %q: %w", t.Ref, info.Type, pluginErr)
	}
	result, err := unpackAll(ctx, unpack, name, t, units, reqs, opts.Limits)
	verified.Wait()
	if verifyErr != nil {
		// Also when unpacking failed: the plugin may have choked on it.
		return nil, fmt.Errorf("%w: %v", errCacheCorrupt, verifyErr)
	}
	if err != nil {
		if errors.Is(err, ErrRefusedContent) {
			forgetRefused(t, info, fetch)
		}
		return nil, err
	}
	return st.finish(ctx, result, info, out, opts)
}

// finish moves the staging output into place as out. Pulls into one
// folder swap their output in one after another: the check, the move
// aside, the rename and the removal of the old content happen under a
// lock on the parent folder (nothing is left behind).
func (st *staging) finish(ctx context.Context, result *PullResult, info *Info, out string, opts PullOptions) (*PullResult, error) {
	result.Info, result.OutputDir = info, out
	lock, err := lockParent(ctx, out)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := replaceDir(st.out, out, opts.Force); err != nil {
		return nil, err
	}
	return result, nil
}

// forgetRefused removes from the cache what a pull refused: the blobs it
// fetched (or found there) and the manifests that list them, so content
// refused as unsafe or over the limits is not kept on disk. Another pull
// of the same digest downloads it again, and is refused again.
func forgetRefused(t *target.Target, info *Info, blobs []ocispec.Descriptor) {
	if t.Cache == nil {
		return
	}
	t.Cache.Remove(info.Root().Digest)
	for _, d := range info.Manifests {
		t.Cache.Remove(d.Digest)
	}
	for _, d := range blobs {
		t.Cache.Remove(d.Digest)
	}
}

// lockParent locks the folder that holds out while a pull changes what is
// in it.
func lockParent(ctx context.Context, out string) (io.Closer, error) {
	return home.LockFolder(ctx, filepath.Dir(out), home.LockOptions{What: filepath.Dir(out), Busy: "another pull is writing " + out})
}

// resolveForPull resolves what opts asks for (unless opts.Resolved has) and
// lists the manifests to unpack. Whether the artifact may be pulled at all
// is the caller's trust gate's decision (pkg/trust), made before.
func resolveForPull(ctx context.Context, t *target.Target, opts PullOptions) (*Info, []unpackUnit, error) {
	if opts.AllPlatforms && opts.Platform != nil {
		return nil, nil, errors.New("pull one platform or all of them, not both")
	}
	var plat *ocispec.Platform
	if !opts.AllPlatforms {
		plat = opts.Platform
		if plat == nil {
			p := oci.CurrentPlatform()
			plat = &p
		}
	}
	info := opts.Resolved
	if info == nil {
		var err error
		if info, err = Resolve(ctx, t, plat); err != nil {
			return nil, nil, err
		}
	}
	if info.Type == "" {
		return nil, nil, fmt.Errorf("%s is not a tierpack artifact: it has no %s annotation (artifactType %q); fetch it with `oras pull` instead",
			t.Ref, sdk.AnnotationType, info.ArtifactType)
	}
	if opts.AllPlatforms {
		units, err := platformUnits(ctx, t, info)
		return info, units, err
	}
	if info.manifest == nil {
		return nil, nil, fmt.Errorf("%s is an index without a manifest for %s/%s", t.Ref, plat.OS, plat.Architecture)
	}
	return info, []unpackUnit{{manifest: info.manifest, annotations: info.Annotations, platform: info.Platform}}, nil
}

// outputDir is the absolute folder the pull writes: opts.OutputDir, else
// the repository's last element; it must be empty unless opts.Force.
func outputDir(t *target.Target, info *Info, opts PullOptions) (string, error) {
	out := opts.OutputDir
	if out == "" {
		repo := t.Ref.Repository
		if repo == "" {
			repo = info.Name
		}
		out = path.Base(repo)
	}
	out, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	return out, checkOutput(out, opts.Force)
}

// staging is a pull's work folder beside its output.
type staging struct {
	// dir is the folder, removed when the pull ends.
	dir string
	// blobs is where blobs are fetched to: the cache's blobs when there is
	// a cache (the plugin reads them there, read-only), else dir/blobs.
	blobs string
	// out is what the plugin unpacks into, renamed into place at the end.
	out string
}

// newStaging makes the staging folder for a pull into out, first cleaning
// up after pulls into the same parent that were killed.
func newStaging(ctx context.Context, out string, t *target.Target) (*staging, error) {
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	if lock, err := lockParent(ctx, out); err == nil {
		recoverStale(parent)
		lock.Close()
	}
	dir, err := os.MkdirTemp(parent, fmt.Sprintf("%s%d-", stagingPrefix, os.Getpid()))
	if err != nil {
		return nil, err
	}
	st := &staging{dir: dir, blobs: filepath.Join(dir, "blobs"), out: filepath.Join(dir, "out")}
	if t.Cache != nil {
		st.blobs = filepath.Join(t.Cache.Dir(), "blobs")
	}
	for _, d := range []string{st.blobs, st.out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	return st, nil
}

// requests makes each unit's Unpack request, and lists the blobs to fetch
// first: every platform's, each once, as platforms may share layers.
func (st *staging) requests(units []unpackUnit, options map[string]string) ([]sdk.UnpackRequest, []ocispec.Descriptor, error) {
	var fetch []ocispec.Descriptor
	reqs := make([]sdk.UnpackRequest, len(units))
	for i, u := range units {
		req := sdk.UnpackRequest{BlobsDir: st.blobs, Annotations: u.annotations, OutputDir: st.out, Options: options}
		if u.dir != "" {
			req.OutputDir = filepath.Join(st.out, u.dir)
			if err := os.Mkdir(req.OutputDir, 0o755); err != nil {
				return nil, nil, err
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
	return reqs, fetch, nil
}

// unpackAll has the plugin unpack each unit, spending one budget of limits
// across all of them, and lists what it wrote.
func unpackAll(ctx context.Context, unpack func(context.Context, sdk.UnpackRequest) (sdk.UnpackResult, error), who string, t *target.Target, units []unpackUnit, reqs []sdk.UnpackRequest, limits archive.Limits) (*PullResult, error) {
	result := &PullResult{}
	budget := archive.Budget{Limits: limits.WithDefaults()}
	for i, u := range units {
		where := t.Ref.String()
		if u.dir != "" {
			where += " (" + u.dir + ")"
		}
		reqs[i].Budget = budget
		res, err := unpack(ctx, reqs[i])
		if err != nil {
			// A plugin built with this SDK sends a refusal typed
			// (sdk.RefusedContentError, wrapping the archive sentinel).
			if archiveRefused(err) {
				return nil, fmt.Errorf("%w: %s: %w", ErrRefusedContent, where, err)
			}
			// One built with an older SDK sends text only: scan the layers
			// here to tell refused content from other failures.
			if serr := scanLayers(ctx, reqs[i], budget); serr != nil {
				if strings.Contains(err.Error(), serr.Error()) {
					return nil, fmt.Errorf("%w: %s: %w", ErrRefusedContent, where, serr)
				}
				return nil, fmt.Errorf("%w: %s: %w (the plugin reported: %v)", ErrRefusedContent, where, serr, err)
			}
			if u.dir != "" {
				return nil, fmt.Errorf("%s: %w", u.dir, err)
			}
			return nil, err
		}
		if err := checkPluginOutput(&budget, reqs[i].OutputDir); err != nil {
			return nil, fmt.Errorf("%w: %s unpacking %s: %w", ErrPluginOutput, who, where, err)
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
	return result, nil
}

// scanLayers reads the tar layers of req as sdk/archive would extract them,
// with the budget the plugin had, writing nothing, and returns the archive
// error that refuses them, if any.
func scanLayers(ctx context.Context, req sdk.UnpackRequest, budget archive.Budget) error {
	for _, l := range req.Layers {
		format, ok := archive.FormatOf(l.MediaType)
		if !ok {
			continue
		}
		f, err := os.Open(filepath.Join(req.BlobsDir, filepath.FromSlash(l.Path)))
		if err != nil {
			return nil
		}
		err = archive.Scan(ctx, f, archive.ExtractOptions{Budget: &budget, Format: format})
		f.Close()
		if archiveRefused(err) {
			return fmt.Errorf("layer %s: %w", l.Digest, err)
		}
		if err != nil {
			return nil
		}
	}
	return nil
}

// standardUnpack reports whether typ is served by an installed, pinned
// plugin that declared its Unpack the standard extraction.
func standardUnpack(plugins *plugin.Manager, typ string) bool {
	src, ok := plugins.Lookup(typ)
	return ok && src.Managed && src.Pin != nil && src.Pin.StandardUnpack
}

// checkPluginOutput checks what a plugin wrote into dir as an archive's
// entries are checked, and spends it from budget: it refuses links leading
// out of dir (a symlink whose target is absolute or climbs out, a hard
// link to a file outside), devices, FIFOs and sockets, files with setuid,
// setgid or sticky bits, anything group- or world-writable, and totals
// over the budget. (A directory's setgid bit is left alone: a folder
// inherits it from a setgid parent, and it grants nothing.)
func checkPluginOutput(budget *archive.Budget, dir string) error {
	limits := budget.Limits.WithDefaults()
	links := map[fileid.ID]int{}
	nlink := map[fileid.ID]uint64{}
	names := map[fileid.ID]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		name := archive.Quote(filepath.ToSlash(rel))
		budget.Entries++
		if budget.Entries > limits.MaxEntries {
			return &archive.LimitError{Limit: "MaxEntries", Msg: fmt.Sprintf("%v: the plugin wrote more than %d entries, the limit on entries for one pull; raise it if you trust this artifact", archive.ErrTooLarge, limits.MaxEntries)}
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			to := filepath.Join(filepath.Dir(p), target)
			if up, _ := filepath.Rel(dir, to); filepath.IsAbs(target) || up == ".." || strings.HasPrefix(up, ".."+string(filepath.Separator)) {
				return fmt.Errorf("%s is a symlink to %s, outside the output", name, archive.Quote(target))
			}
			return nil
		case mode&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket|fs.ModeIrregular) != 0:
			return fmt.Errorf("%s is a %s; pulls never write device files, named pipes or sockets", name, archive.DescribeMode(mode))
		case mode.IsRegular() && mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0:
			return fmt.Errorf("%s has mode %s: setuid, setgid and sticky bits are never written by a pull", name, mode)
		case mode.Perm()&0o022 != 0:
			return fmt.Errorf("%s has mode %s: group- or world-writable files and folders are never written by a pull", name, mode.Perm())
		case !mode.IsRegular():
			return nil
		}
		if k, n, ok := fileid.Of(fi); ok && n > 1 {
			links[k]++
			nlink[k] = n
			names[k] = name
		}
		if fi.Size() > limits.MaxFileSize {
			return &archive.LimitError{Limit: "MaxFileSize", Msg: fmt.Sprintf("%v: the plugin wrote %s, %s, more than the %s limit on one file; raise it if you trust this artifact",
				archive.ErrTooLarge, name, archive.FormatSize(fi.Size()), archive.FormatSize(limits.MaxFileSize))}
		}
		budget.Size += fi.Size()
		if budget.Size > limits.MaxTotalSize {
			return &archive.LimitError{Limit: "MaxTotalSize", Msg: fmt.Sprintf("%v: the content written reached %s at %s, more than the %s limit for one pull; raise it if you trust this artifact",
				archive.ErrTooLarge, archive.FormatSize(budget.Size), name, archive.FormatSize(limits.MaxTotalSize))}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for k, n := range links {
		if uint64(n) < nlink[k] {
			return fmt.Errorf("%s is a hard link to a file outside the output (%d links, %d inside)", names[k], nlink[k], n)
		}
	}
	return nil
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
		return nil, fmt.Errorf("%s is a single-platform artifact, not an image index: there are no platforms to pull", t.Ref)
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
		dir, err := oci.PlatformDir(*md.Platform)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Ref, err)
		}
		if seen[dir] {
			return nil, fmt.Errorf("%s lists platform %s twice; pull one platform", t.Ref, dir)
		}
		seen[dir] = true
		m, err := oci.FetchImageManifest(ctx, t, md)
		if err != nil {
			return nil, err
		}
		ann := map[string]string{}
		for k, v := range m.Annotations {
			ann[k] = v
		}
		for k, v := range info.Annotations {
			ann[k] = v // the index's win, as in Resolve
		}
		units = append(units, unpackUnit{dir: dir, manifest: m, annotations: ann, platform: md.Platform})
	}
	if len(units) == 0 {
		return nil, fmt.Errorf("%s is an index that lists no platforms", t.Ref)
	}
	return units, nil
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
			return &ExistsError{Path: out, File: true}
		}
		return err
	case len(entries) > 0 && !force:
		return &ExistsError{Path: out}
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
		conc = oci.DefaultConcurrency
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
	if t.Cache != nil && t.Cache.Has(d) {
		if p := opts.Progress; p != nil {
			p.Start(d, true)
			p.Done(d, nil)
		}
		return true, nil // verified by the caller, alongside unpacking
	}
	fo := oci.FetchOptions{Progress: opts.Progress, Attempts: opts.Attempts}
	if t.Cache != nil {
		err = oci.FetchTo(ctx, t.Store, d, fo, func(r io.Reader) error { return t.Cache.PutVerified(d, r) })
	} else {
		err = oci.FetchFile(ctx, t.Store, d, filepath.Join(dir, blobPath(d.Digest)), fo)
	}
	if err != nil {
		return false, fetchError(t, d, err)
	}
	return false, nil
}

// fetchError is what a pull says of a failed download of blob d: refused
// content when what arrived did not match its digest, else the failure.
func fetchError(t *target.Target, d ocispec.Descriptor, err error) error {
	if errors.Is(err, content.ErrMismatchedDigest) || errors.Is(err, content.ErrTrailingData) {
		return fmt.Errorf("%w: %s: the registry served other content for blob %s than its digest names (%v): corrupt or hostile; nothing of it was kept",
			ErrRefusedContent, t.Ref, d.Digest, err)
	}
	return fmt.Errorf("%s: fetching %s: %w", t.Ref, d.Digest, err)
}

// archiveRefused reports whether err is sdk/archive's refusal of content:
// an unsafe entry, a limit exceeded or a corrupt archive.
func archiveRefused(err error) bool {
	return errors.Is(err, archive.ErrUnsafeEntry) || errors.Is(err, archive.ErrTooLarge) || errors.Is(err, archive.ErrCorrupt)
}

// verifyCached re-reads cache entries against their digests; corrupt
// entries are removed.
func verifyCached(t *target.Target, ds []ocispec.Descriptor) error {
	var errs []error
	for _, d := range ds {
		if err := verifyEntry(t, d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func verifyEntry(t *target.Target, d ocispec.Descriptor) error {
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
