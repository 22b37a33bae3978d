package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"

	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/sdk"
)

// Info describes a resolved artifact, as inspect, pull and index read it.
type Info struct {
	Reference    string            `json:"reference"`
	Digest       string            `json:"digest"`
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Size         int64             `json:"size"`
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

// Manifest returns the image manifest: the artifact's, or for an index the
// selected platform's; nil for an index resolved without a platform.
func (i *Info) Manifest() *ocispec.Manifest { return i.manifest }

// Resolve resolves t's reference and reads its manifest (and, for an index,
// the manifest for platform, when platform is not nil). Every byte read is
// size-limited and checked against its digest; with t.Cache, manifests
// come from the cache when it has them, and a digest reference of cached
// content needs no network at all.
func Resolve(ctx context.Context, t *target.Target, platform *ocispec.Platform) (*Info, error) {
	desc, data, err := resolveAndFetch(ctx, t)
	if err != nil {
		return nil, err
	}
	info := &Info{Reference: t.Ref.String(), root: desc, Digest: desc.Digest.String(), MediaType: desc.MediaType, Size: desc.Size}
	switch desc.MediaType {
	case ocispec.MediaTypeImageIndex, sdk.MediaTypeDockerManifestList:
		err = info.readIndex(ctx, t, data, platform)
	case ocispec.MediaTypeImageManifest, sdk.MediaTypeDockerManifest:
		err = info.readManifest(t, data)
	default:
		err = fmt.Errorf("%s has media type %q, which is not an OCI manifest or index", t.Ref, desc.MediaType)
	}
	if err != nil {
		return nil, err
	}
	if err := info.interpret(); err != nil {
		return nil, fmt.Errorf("%s: %w", t.Ref, err)
	}
	return info, nil
}

// resolveAndFetch resolves t's reference and reads its manifest, verified
// against its digest. A tag on a registry takes one GET (as `oras pull`
// does), not a HEAD and then a GET.
func resolveAndFetch(ctx context.Context, t *target.Target) (ocispec.Descriptor, []byte, error) {
	r := t.Remote()
	if r == nil || t.Ref.Digest != "" || t.Ref.Tag == "" {
		desc, err := ResolveDescriptor(ctx, t)
		if err != nil {
			return desc, nil, err
		}
		data, err := FetchManifest(ctx, t, desc)
		return desc, data, err
	}
	desc, rc, err := r.FetchReference(ctx, t.Ref.Tag)
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			return desc, nil, &NotFoundError{Ref: t.Ref.String()}
		}
		return desc, nil, fmt.Errorf("resolving %s: %w", t.Ref, err)
	}
	defer rc.Close()
	if desc.Size > MaxManifestSize {
		return desc, nil, fmt.Errorf("%s: manifest %s is %d bytes, more than the %d tierpack reads: %w", t.Ref, desc.Digest, desc.Size, MaxManifestSize, ErrTooLarge)
	}
	data, err := content.ReadAll(rc, desc) // checks the size and the digest
	if err != nil {
		return desc, nil, fmt.Errorf("%s: fetching manifest %s: %w", t.Ref, desc.Digest, err)
	}
	if t.Cache != nil {
		_ = t.Cache.PutBytes(desc, data) // a cache that cannot be written is only slower
	}
	return desc, data, nil
}

// ResolveDescriptor resolves t's reference to a descriptor: from the cache
// for a digest it holds, else from the target.
func ResolveDescriptor(ctx context.Context, t *target.Target) (ocispec.Descriptor, error) {
	ref := t.Ref.Reference()
	if ref == "" {
		return ocispec.Descriptor{}, fmt.Errorf("%s names no tag or digest: add :TAG or @sha256:…", t.Ref)
	}
	desc, err := resolveCached(t, ref)
	if err != nil {
		// Not retried here: the HTTP client already retries a resolve, which
		// has no body to lose.
		desc, err = t.Store.Resolve(ctx, ref)
	}
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			return ocispec.Descriptor{}, &NotFoundError{Ref: t.Ref.String()}
		}
		return ocispec.Descriptor{}, fmt.Errorf("resolving %s: %w", t.Ref, err)
	}
	return desc, nil
}

// readIndex fills info from an index and, if platform is set, from the
// manifest it lists for platform.
func (i *Info) readIndex(ctx context.Context, t *target.Target, data []byte, platform *ocispec.Platform) error {
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return fmt.Errorf("%s: malformed image index: %w", t.Ref, err)
	}
	i.ArtifactType, i.Annotations, i.Manifests = idx.ArtifactType, idx.Annotations, idx.Manifests
	if platform == nil {
		return nil
	}
	md, err := SelectPlatform(idx.Manifests, *platform)
	if err != nil {
		return fmt.Errorf("%s: %w", t.Ref, err)
	}
	m, err := FetchImageManifest(ctx, t, md)
	if err != nil {
		return err
	}
	i.setManifest(m)
	i.Platform = md.Platform
	return nil
}

// readManifest fills info from an image manifest.
func (i *Info) readManifest(t *target.Target, data []byte) error {
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%s: malformed manifest: %w", t.Ref, err)
	}
	i.ArtifactType, i.Annotations = m.ArtifactType, m.Annotations
	if i.ArtifactType == "" {
		i.ArtifactType = m.Config.MediaType
	}
	i.setManifest(&m)
	return nil
}

// interpret reads what tierpack's annotations say: type, name and version
// (the tier annotation is the trust layer's to read).
func (i *Info) interpret() error {
	i.Type = i.Annotations[sdk.AnnotationType]
	if i.Type == "" && i.manifest != nil && i.manifest.Config.MediaType == sdk.MediaTypeHelmConfig {
		i.Type = "chart" // pushed by helm push: an untiered chart
	}
	i.Name = i.Annotations[sdk.AnnotationName]
	if i.Name == "" {
		i.Name = i.Annotations[ocispec.AnnotationTitle]
	}
	i.Version = i.Annotations[ocispec.AnnotationVersion]
	return nil
}

// setManifest records m and adds its annotations to those the index gave
// (the index's win).
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

// FetchManifest reads a manifest, index or other small JSON (an image
// config) of t with FetchAll's limit and checks, through t.Cache when t has
// one.
func FetchManifest(ctx context.Context, t *target.Target, desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size > MaxManifestSize {
		return nil, fmt.Errorf("%s: manifest %s is %d bytes, more than the %d tierpack reads: %w", t.Ref, desc.Digest, desc.Size, MaxManifestSize, ErrTooLarge)
	}
	if t.Cache != nil {
		if data, err := t.Cache.Get(desc); err == nil {
			return data, nil
		}
	}
	data, err := FetchAll(ctx, t.Store, desc, MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("%s: fetching manifest %s: %w", t.Ref, desc.Digest, err)
	}
	if t.Cache != nil {
		_ = t.Cache.PutBytes(desc, data) // a cache that cannot be written is only slower
	}
	return data, nil
}

// FetchImageManifest reads and decodes an image manifest with
// FetchManifest.
func FetchImageManifest(ctx context.Context, t *target.Target, desc ocispec.Descriptor) (*ocispec.Manifest, error) {
	data, err := FetchManifest(ctx, t, desc)
	if err != nil {
		return nil, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s (%s): malformed manifest: %w", t.Ref, desc.Digest, err)
	}
	return &m, nil
}

// CurrentPlatform is the platform tierpack runs on.
func CurrentPlatform() ocispec.Platform {
	return ocispec.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
}

// PlatformString names a platform os/arch[/variant], as --platform takes
// it.
func PlatformString(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// SelectPlatform returns the entry of an index's manifests for want (any
// variant when want has none), or an error listing the platforms there are.
func SelectPlatform(ms []ocispec.Descriptor, want ocispec.Platform) (ocispec.Descriptor, error) {
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
	return ocispec.Descriptor{}, &PlatformError{Want: want.OS + "/" + want.Architecture, Have: have}
}

// NotFoundError is a reference (a tag, a digest) its repository does not
// have; it wraps errdef.ErrNotFound.
type NotFoundError struct{ Ref string }

func (e *NotFoundError) Error() string { return e.Ref + ": " + errdef.ErrNotFound.Error() }

// Unwrap returns errdef.ErrNotFound.
func (e *NotFoundError) Unwrap() error { return errdef.ErrNotFound }

// PlatformError is an index with no manifest for the platform asked for.
type PlatformError struct {
	Want string   // OS/ARCH
	Have []string // the platforms it has, OS/ARCH
}

func (e *PlatformError) Error() string {
	return fmt.Sprintf("no manifest for platform %s; it has %s", e.Want, strings.Join(e.Have, ", "))
}

// platformPart is what an OS, architecture or variant may be in a folder
// name: they come from the registry, so they must not be able to name a
// path such as "..".
var platformPart = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._]*$`) })

// PlatformDir names a platform as one folder, OS-ARCH[-VARIANT] (for
// example linux-amd64 or linux-arm-v7). Values that cannot be part of a
// folder name are refused.
func PlatformDir(p ocispec.Platform) (string, error) {
	parts := []string{p.OS, p.Architecture}
	if p.Variant != "" {
		parts = append(parts, p.Variant)
	}
	for _, s := range parts {
		if !platformPart().MatchString(s) {
			return "", fmt.Errorf("platform %q/%q/%q cannot name a folder: the index is malformed", p.OS, p.Architecture, p.Variant)
		}
	}
	return strings.Join(parts, "-"), nil
}
