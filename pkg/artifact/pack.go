// Package artifact turns contributions into OCI artifacts and back.
//
// Pack asks the type's plugin to validate and package a contribution into a
// staging directory, re-hashes every file the plugin wrote (a plugin is not
// trusted with digests), and builds the OCI manifest — or, for
// multi-platform types, an image index — annotated with the tier and type.
// Push copies a packed artifact to any oras-go target, uploading only blobs
// the target lacks and tagging last, so a failed push never leaves a tag
// pointing at missing content. Pull runs the flow backwards into a staging
// directory that is renamed into place only when everything succeeded.
package artifact

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/tierpack/tierpack/pkg/cache"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/owners"
	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/pkg/requires"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
	"github.com/tierpack/tierpack/sdk/contrib"
)

// ErrValidation is wrapped by ValidationError.
var ErrValidation = errors.New("contribution is not valid")

// ValidationError carries the diagnostics that stopped a Pack.
type ValidationError struct {
	Name        string
	Diagnostics []sdk.Diagnostic
}

// Error lists the error diagnostics.
func (e *ValidationError) Error() string {
	var b strings.Builder
	n := sdk.Count(e.Diagnostics, sdk.SeverityError)
	fmt.Fprintf(&b, "contribution %q has %d error(s):", e.Name, n)
	for _, d := range e.Diagnostics {
		if d.Severity == sdk.SeverityError {
			b.WriteString("\n  " + d.String())
		}
	}
	return b.String()
}

// Unwrap returns ErrValidation.
func (e *ValidationError) Unwrap() error { return ErrValidation }

// Validate checks a contribution with its type's plugin. Manifest problems
// were already reported by contrib.Load; this adds the plugin's findings and
// the OWNERS file's.
func Validate(ctx context.Context, plugins *plugin.Manager, m *contrib.Manifest) ([]sdk.Diagnostic, error) {
	v, err := validate(ctx, plugins, m, plugin.Access{Read: []string{m.Dir}})
	if err != nil {
		return nil, err
	}
	return v.diags, nil
}

// validated is what validation learned about a contribution.
type validated struct {
	plugin  *plugin.Plugin
	contrib sdk.Contribution
	diags   []sdk.Diagnostic
	owners  *owners.File
}

// validate starts the type's plugin, with access (the contribution to
// read, the staging folder it will package into), and runs its validation
// and the OWNERS check.
func validate(ctx context.Context, plugins *plugin.Manager, m *contrib.Manifest, access plugin.Access) (*validated, error) {
	p, err := plugins.GetFor(ctx, m.Type, access)
	if err != nil {
		return nil, err
	}
	c, err := m.Contribution()
	if err != nil {
		return nil, err
	}
	diags, err := p.Validate(ctx, sdk.ValidateRequest{Dir: m.Dir, Contribution: c})
	if err != nil {
		return nil, err
	}
	own, odiags := loadOwners(m)
	diags = append(diags, odiags...)
	diags = append(diags, filesLeftOut(m)...)
	if err := requires.Check(m.Requires); err != nil {
		diags = append(diags, sdk.Errorf(contrib.FileName, m.Line("requires"), "%v", err))
	}
	return &validated{plugin: p, contrib: c, diags: diags, owners: own}, nil
}

// filesLeftOut warns about each file or folder in the contribution that an
// explicit files: list leaves out, and so would not be packaged: a file a
// user adds after init must not silently stay behind. Hidden entries,
// tierpack.yaml and the OWNERS file (which travels as an annotation) are
// left out on purpose.
func filesLeftOut(m *contrib.Manifest) []sdk.Diagnostic {
	if m.Line("files") == 0 {
		return nil // no files: list: every non-hidden file is packaged
	}
	listed := map[string]bool{}
	for _, f := range m.Files {
		listed[strings.TrimSuffix(filepath.ToSlash(filepath.Clean(filepath.FromSlash(f))), "/")] = true
	}
	skip := map[string]bool{contrib.FileName: true}
	if p := m.OwnersPath(); p != "" {
		skip[relTo(m.Dir, p)] = true
	}
	// inside reports whether some listed path is rel or below it.
	inside := func(rel string) bool {
		for f := range listed {
			if strings.HasPrefix(f, rel+"/") {
				return true
			}
		}
		return false
	}
	var diags []sdk.Diagnostic
	var walk func(dir, rel string)
	walk = func(dir, rel string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			r := e.Name()
			if rel != "" {
				r = rel + "/" + r
			}
			if strings.HasPrefix(e.Name(), ".") || skip[r] || listed[r] {
				continue
			}
			if e.IsDir() && inside(r) {
				walk(filepath.Join(dir, e.Name()), r)
				continue
			}
			what := "file"
			if e.IsDir() {
				what = "folder"
			}
			diags = append(diags, sdk.Warnf(r, 0, "this %s is not in tierpack.yaml's files: list (line %d), so it is not packaged", what, m.Line("files")).
				WithHint("add it to files:, or remove files: to package every file that does not start with '.'"))
		}
	}
	walk(m.Dir, "")
	return diags
}

// loadOwners reads the contribution's OWNERS file, if it has one.
func loadOwners(m *contrib.Manifest) (*owners.File, []sdk.Diagnostic) {
	p := m.OwnersPath()
	if p == "" {
		return nil, nil
	}
	own, err := owners.LoadIn(m.Dir, relTo(m.Dir, p))
	if err != nil {
		return nil, []sdk.Diagnostic{sdk.Errorf(relTo(m.Dir, p), 0, "%v", err).WithHint("OWNERS is Kubernetes-style YAML: approvers: [handle], reviewers: [handle]")}
	}
	var diags []sdk.Diagnostic
	for _, h := range append(append([]string{}, own.Approvers...), own.Reviewers...) {
		if contrib.IsPlaceholder(h) {
			diags = append(diags, sdk.Errorf(relTo(m.Dir, p), 0, "%q is tierpack init's placeholder, not a maintainer", h).
				WithHint("replace it with the GitHub handles of the people who support this contribution"))
			break
		}
	}
	return own, diags
}

// PackOptions tune Pack. The zero value is ready to use.
type PackOptions struct {
	// Created stamps org.opencontainers.image.created and archive mtimes;
	// zero leaves the annotation out and uses the epoch in archives, so the
	// same content always gives the same digest. The CLI sets it from
	// SOURCE_DATE_EPOCH.
	Created time.Time
	// StagingParent is where the staging directory is made; empty means
	// the system temp dir, or the cache's folder when Cache is set (so
	// packaged files can be linked into it).
	StagingParent string
	// Cache, if set, remembers packaged files by a fingerprint of the
	// input, so re-pushing unchanged content does not package it again.
	Cache *cache.Cache
	// Limits are what a pull of the artifact must stay within (zero fields:
	// the defaults, which `tierpack pull` applies unless raised). Pack reads
	// every tar layer the plugin wrote as a pull would extract it, one
	// budget per platform, and refuses with ErrValidation what a pull would
	// refuse, so nothing is pushed that cannot be pulled.
	Limits archive.Limits
	// Compression is how tar layers are compressed: CompressionAuto (the
	// zero value) asks for zstd of a plugin whose Describe lists the
	// tar+zstd layer media type (tierpack's script type) and gzip of every
	// other (charts, exporter images and falcoctl's artifacts keep gzip,
	// which their own clients need); CompressionGzip asks every plugin for
	// gzip; CompressionZstd insists on zstd and refuses a plugin that does
	// not list it.
	Compression string
}

// Compressions of PackOptions.Compression.
const (
	CompressionAuto = ""
	CompressionGzip = "gzip"
	CompressionZstd = "zstd"
)

// ErrNoZstd is wrapped when zstd is insisted on for a type whose plugin
// does not write it.
var ErrNoZstd = errors.New("--compression zstd")

// ParseCompression checks a --compression value: auto, gzip or zstd.
func ParseCompression(s string) (string, error) {
	switch s {
	case "", "auto":
		return CompressionAuto, nil
	case CompressionGzip, CompressionZstd:
		return s, nil
	}
	return "", fmt.Errorf("--compression %q: use auto (zstd where the type's plugin writes it, else gzip), gzip or zstd", s)
}

// compressionFor is what Pack asks plugin d for under option opt.
func compressionFor(opt string, d sdk.Description) (archive.Compression, error) {
	writesZstd := slices.Contains(d.MediaTypes, sdk.MediaTypeLayerTarZstd)
	switch opt {
	case CompressionAuto:
		if writesZstd {
			return archive.Zstd, nil
		}
		return archive.Gzip, nil
	case CompressionGzip:
		return archive.Gzip, nil
	case CompressionZstd:
		if writesZstd {
			return archive.Zstd, nil
		}
		return archive.Gzip, fmt.Errorf("%w: the %s type's plugin does not write tar+zstd layers (its media types: %s); use --compression auto or gzip",
			ErrNoZstd, d.Type, strings.Join(d.MediaTypes, ", "))
	}
	_, err := ParseCompression(opt)
	return archive.Gzip, err
}

// Packed is a built artifact waiting in a staging directory. Close removes
// the directory.
type Packed struct {
	Manifest *contrib.Manifest
	// Root is the top-level manifest or index.
	Root ocispec.Descriptor
	// Blobs lists every blob in push order: configs and layers, then child
	// manifests, then Root last.
	Blobs       []oci.Blob
	Plugin      sdk.Description
	Diagnostics []sdk.Diagnostic
	// Owners is the contribution's parsed OWNERS file, nil if none.
	Owners *owners.File
	// FromCache reports that the packaged files came from the cache: the
	// input had not changed since they were made.
	FromCache bool
	staging   string
	// known holds blobs already hashed, by their path in the plugin output.
	known map[string]oci.Blob
}

// Close removes the staging directory.
func (p *Packed) Close() error { return os.RemoveAll(p.staging) }

// Pack validates and packages the contribution m with its plugin.
func Pack(ctx context.Context, plugins *plugin.Manager, m *contrib.Manifest, opts PackOptions) (*Packed, error) {
	parent := opts.StagingParent
	if parent == "" && opts.Cache != nil {
		parent = opts.Cache.Dir()
	}
	staging, err := os.MkdirTemp(parent, "tierpack-pack-")
	if err != nil {
		return nil, err
	}
	packed := &Packed{Manifest: m, staging: staging}
	ok := false
	defer func() {
		if !ok {
			packed.Close()
		}
	}()
	out := filepath.Join(staging, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		return nil, err
	}
	var epoch int64
	if !opts.Created.IsZero() {
		epoch = opts.Created.Unix()
	}

	// Validation and packaging are deterministic functions of the plugin
	// and the input: when neither changed since a previous run, reuse what
	// it found and made instead of validating and compressing again — the
	// plugin is not even started.
	var key string
	if opts.Cache != nil {
		if src, found := plugins.Lookup(m.Type); found {
			if key, err = fingerprint(m, src, epoch, opts.Compression); err != nil {
				key = ""
			} else if packed.fromRecord(opts, key, out) {
				ok = true
				return packed, nil
			}
		}
	}

	v, err := validate(ctx, plugins, m, plugin.Access{Read: []string{m.Dir}, Write: []string{out}})
	if err != nil {
		return nil, err
	}
	p, c := v.plugin, v.contrib
	packed.Plugin, packed.Diagnostics, packed.Owners = p.Describe(), v.diags, v.owners
	if sdk.Count(v.diags, sdk.SeverityError) > 0 {
		return nil, &ValidationError{Name: m.Name, Diagnostics: v.diags}
	}
	compression, err := compressionFor(opts.Compression, packed.Plugin)
	if err != nil {
		return nil, err
	}
	res, err := p.Package(ctx, sdk.PackageRequest{Dir: m.Dir, Contribution: c, StagingDir: out, SourceDateEpoch: epoch, Compression: compression})
	if err != nil {
		return nil, err
	}
	packed.Diagnostics = append(packed.Diagnostics, res.Diagnostics...)
	if sdk.Count(res.Diagnostics, sdk.SeverityError) > 0 {
		return nil, &ValidationError{Name: m.Name, Diagnostics: res.Diagnostics}
	}
	// The pullability scan decompresses every layer while build hashes
	// them: on two cores, side by side they cost one pass, not two.
	pullable := make(chan error, 1)
	go func() { pullable <- checkPullable(ctx, m, out, res, opts.Limits) }()
	if err := packed.build(out, res, opts); err != nil {
		<-pullable
		return nil, fmt.Errorf("%s plugin output: %w", m.Type, err)
	}
	if err := <-pullable; err != nil {
		return nil, err
	}
	if key != "" {
		// A cache that cannot be written only makes the next push slower.
		_ = savePackRecord(opts.Cache, key, v.diags, res, packed)
	}
	ok = true
	return packed, nil
}

// Zstd reports whether a layer is tar+zstd.
func (p *Packed) Zstd() bool {
	return slices.ContainsFunc(p.Blobs, func(b oci.Blob) bool { return b.Desc.MediaType == sdk.MediaTypeLayerTarZstd })
}

// checkPullable scans the tar layers of each manifest the plugin packaged
// as a pull extracts them — same checks, same limits, one budget for the
// layers of one platform — and refuses what a pull would refuse.
func checkPullable(ctx context.Context, m *contrib.Manifest, out string, res sdk.PackageResult, limits archive.Limits) error {
	for _, pm := range res.Manifests {
		budget := archive.Budget{Limits: limits}
		for _, l := range pm.Layers {
			format, ok := archive.FormatOf(l.MediaType)
			if !ok {
				continue
			}
			f, err := os.Open(filepath.Join(out, filepath.FromSlash(l.Path)))
			if err != nil {
				return err
			}
			err = archive.Scan(ctx, f, archive.ExtractOptions{Budget: &budget, Format: format})
			f.Close()
			if err == nil {
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			plat := ""
			if pm.Platform != nil {
				plat = " for " + pm.Platform.String()
			}
			return fmt.Errorf("%w: %q cannot be pulled: its packaged layer %s%s is refused by the same checks `tierpack pull` applies: %w; leave the file out or make it smaller, or split the contribution",
				ErrValidation, m.Name, archive.Quote(l.Path), plat, err)
		}
	}
	return nil
}

// fromRecord fills p from the cache record for key, if there is a usable
// one.
func (p *Packed) fromRecord(opts PackOptions, key, out string) bool {
	rec, err := loadPackRecord(opts.Cache, key)
	if err != nil {
		return false
	}
	known := rec.blobs(opts.Cache)
	if known == nil {
		return false
	}
	own, _ := loadOwners(p.Manifest) // a broken OWNERS file was an error, and errors are never cached
	p.known, p.Plugin, p.Owners = known, rec.Plugin, own
	p.Diagnostics = append(append([]sdk.Diagnostic{}, rec.Diagnostics...), rec.Result.Diagnostics...)
	if err := p.build(out, rec.Result, opts); err != nil {
		p.known, p.Blobs, p.Diagnostics = nil, nil, nil
		return false
	}
	p.FromCache = true
	return true
}

// Annotations returns the manifest annotations tierpack derives from m, its
// OWNERS record (nil if none) and its validation warnings.
func Annotations(m *contrib.Manifest, created time.Time, own *owners.File, warnings int) map[string]string {
	a := map[string]string{
		sdk.AnnotationTier:            m.Tier.String(),
		sdk.AnnotationType:            m.Type,
		sdk.AnnotationName:            m.Name,
		ocispec.AnnotationTitle:       m.Name,
		ocispec.AnnotationVersion:     m.Version,
		ocispec.AnnotationDescription: m.Description,
		ocispec.AnnotationSource:      m.Source.URL,
		ocispec.AnnotationRevision:    m.Source.Revision,
		ocispec.AnnotationLicenses:    m.License,
		ocispec.AnnotationAuthors:     strings.Join(m.Authors, ", "),
		ocispec.AnnotationURL:         m.Homepage,
		sdk.AnnotationKeywords:        strings.Join(m.Keywords, ","),
		sdk.AnnotationRequires:        requires.Annotation(m.Requires),
	}
	if !created.IsZero() {
		a[ocispec.AnnotationCreated] = created.UTC().Format(time.RFC3339)
	}
	if own != nil {
		a[sdk.AnnotationOwners] = own.JSON()
	}
	a[sdk.AnnotationWarnings] = strconv.Itoa(warnings)
	for k, v := range a {
		if v == "" {
			delete(a, k)
		}
	}
	return a
}

// build turns the plugin's packaging result into blobs: one image manifest
// per manifest the plugin described, and an image index over them when
// there are several or the one names its platform. Root is pushed last.
func (p *Packed) build(out string, res sdk.PackageResult, opts PackOptions) error {
	if len(res.Manifests) == 0 {
		return errors.New("the plugin packaged nothing (no manifests)")
	}
	root, err := os.OpenRoot(out)
	if err != nil {
		return err
	}
	defer root.Close()
	ann := map[string]string{}
	for k, v := range res.Annotations {
		ann[k] = v
	}
	for k, v := range Annotations(p.Manifest, opts.Created, p.Owners, sdk.Count(p.Diagnostics, sdk.SeverityWarning)) {
		ann[k] = v // the host's annotations win over the plugin's
	}
	artifactType := p.Plugin.ArtifactType
	seen := map[digest.Digest]bool{}
	var manifests []oci.Blob
	for i, pm := range res.Manifests {
		if len(res.Manifests) > 1 && pm.Platform == nil {
			return fmt.Errorf("manifest %d of %d has no platform: a multi-manifest artifact is an image index and needs one per manifest", i+1, len(res.Manifests))
		}
		blobs, man, err := p.buildManifest(root, out, pm, ann, artifactType)
		if err != nil {
			return err
		}
		for _, b := range blobs {
			if !seen[b.Desc.Digest] {
				seen[b.Desc.Digest] = true
				p.Blobs = append(p.Blobs, b)
			}
		}
		manifests = append(manifests, man)
	}
	// An index for several manifests, and for one that names its platform:
	// a platform-specific artifact must keep saying which platform it is
	// for, or a pull on another platform would take it.
	if len(manifests) == 1 && res.Manifests[0].Platform == nil {
		p.Root = manifests[0].Desc
		p.Root.Platform = nil
		p.Blobs = append(p.Blobs, oci.Blob{Desc: p.Root, Data: manifests[0].Data})
		return nil
	}
	var entries []ocispec.Descriptor
	for _, mb := range manifests {
		p.Blobs = append(p.Blobs, mb)
		d := mb.Desc
		d.ArtifactType = ""
		entries = append(entries, d)
	}
	idx, err := oci.IndexBlob(oci.NewIndex(artifactType, entries, ann))
	if err != nil {
		return err
	}
	if err := p.checkSize("index", idx.Data, ann); err != nil {
		return err
	}
	p.Root = idx.Desc
	p.Blobs = append(p.Blobs, idx)
	return nil
}

// checkSize refuses a manifest or index (what) that a pull would refuse to
// read (oci.MaxManifestSize), rather than push it: as invalid when the
// contribution's own annotations (host, from tierpack.yaml) are the cause,
// else as the plugin's output (its annotations, its layers).
func (p *Packed) checkSize(what string, data []byte, host map[string]string) error {
	if len(data) <= oci.MaxManifestSize {
		return nil
	}
	own := 0
	for k, v := range Annotations(p.Manifest, time.Time{}, p.Owners, 0) {
		if host[k] == v {
			own += len(k) + len(v)
		}
	}
	if own > oci.MaxManifestSize/2 {
		return fmt.Errorf("%w: the %s would be %d bytes, more than the %d a pull reads, and %d of them are the contribution's own annotations (from %s): shorten its description, keywords or OWNERS",
			contrib.ErrInvalid, what, len(data), oci.MaxManifestSize, own, contrib.FileName)
	}
	return fmt.Errorf("%w: %s packaged a %s of %d bytes (its annotations or layer list), more than the %d a pull reads: it would push what nobody can pull",
		ErrPluginOutput, p.Plugin.Type+" plugin", what, len(data), oci.MaxManifestSize)
}

// buildManifest builds the image manifest for one manifest the plugin
// described, with the annotations ann on top of the plugin's: every
// manifest carries the tier, also each platform's in an index, so a runtime
// that resolves one platform still sees it. It returns the config and
// layer blobs and, separately, the manifest's.
func (p *Packed) buildManifest(root *os.Root, out string, pm sdk.Manifest, ann map[string]string, artifactType string) ([]oci.Blob, oci.Blob, error) {
	var blobs []oci.Blob
	cfg := oci.EmptyJSON()
	if pm.Config != nil {
		b, err := p.blobFor(root, out, *pm.Config)
		if err != nil {
			return nil, oci.Blob{}, err
		}
		cfg = b
	}
	blobs = append(blobs, cfg)
	cfgDesc := cfg.Desc
	cfgDesc.Data = nil
	switch {
	case pm.ArtifactType == "-":
		artifactType = ""
	case pm.ArtifactType != "":
		artifactType = pm.ArtifactType
	case pm.Config != nil:
		artifactType = ""
	}
	layers := []ocispec.Descriptor{}
	for _, l := range pm.Layers {
		b, err := p.blobFor(root, out, l)
		if err != nil {
			return nil, oci.Blob{}, err
		}
		layers = append(layers, b.Desc)
		blobs = append(blobs, b)
	}
	if len(layers) == 0 {
		// image-spec: an artifact with no layers should have one empty layer.
		empty := oci.EmptyJSON()
		layers = append(layers, empty.Desc)
		blobs = append(blobs, empty)
	}
	a := map[string]string{}
	for k, v := range pm.Annotations {
		a[k] = v
	}
	for k, v := range ann {
		a[k] = v
	}
	man, err := oci.ManifestBlob(oci.NewManifest(artifactType, cfgDesc, layers, a))
	if err != nil {
		return nil, oci.Blob{}, err
	}
	if err := p.checkSize("manifest", man.Data, ann); err != nil {
		return nil, oci.Blob{}, err
	}
	if pm.Platform != nil {
		man.Desc.Platform = &ocispec.Platform{OS: pm.Platform.OS, Architecture: pm.Platform.Architecture, Variant: pm.Platform.Variant}
	}
	return blobs, man, nil
}

// blobFor returns the blob for a file of the plugin's output: known
// already (from the cache), or hashed now.
func (p *Packed) blobFor(root *os.Root, dir string, b sdk.Blob) (oci.Blob, error) {
	if k, ok := p.known[b.Path]; ok {
		k.Desc.Annotations = b.Annotations
		if len(k.Desc.Annotations) == 0 {
			k.Desc.Annotations = nil
		}
		return k, nil
	}
	return hashFile(root, dir, b)
}

// hashFile hashes a file the plugin wrote, refusing paths that leave the
// staging directory and anything but regular files.
func hashFile(root *os.Root, dir string, b sdk.Blob) (oci.Blob, error) {
	if b.MediaType == "" {
		return oci.Blob{}, fmt.Errorf("blob %q has no media type", b.Path)
	}
	if err := contrib.CheckRelPath(b.Path); err != nil {
		return oci.Blob{}, fmt.Errorf("blob path: %w", err)
	}
	f, err := root.Open(filepath.FromSlash(b.Path))
	if err != nil {
		return oci.Blob{}, fmt.Errorf("blob %q: %w", b.Path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return oci.Blob{}, err
	}
	if !st.Mode().IsRegular() {
		return oci.Blob{}, fmt.Errorf("blob %q is not a regular file", b.Path)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return oci.Blob{}, fmt.Errorf("hashing %q: %w", b.Path, err)
	}
	desc := ocispec.Descriptor{
		MediaType:   b.MediaType,
		Digest:      digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil))),
		Size:        n,
		Annotations: b.Annotations,
	}
	if len(desc.Annotations) == 0 {
		desc.Annotations = nil
	}
	return oci.Blob{Desc: desc, Path: filepath.Join(dir, filepath.FromSlash(b.Path))}, nil
}

// relTo returns p relative to dir, slash-separated, or p itself.
func relTo(dir, p string) string {
	if r, err := filepath.Rel(dir, p); err == nil {
		return filepath.ToSlash(r)
	}
	return p
}
