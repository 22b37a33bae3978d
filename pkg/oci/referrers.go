package oci

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// DefaultMaxReferrerChecks bounds how many referrer manifests Referrers
// fetches to learn their real artifactType.
const DefaultMaxReferrerChecks = 256

// MaxReferrerManifestSize bounds each referrer manifest Referrers fetches
// (1 MiB); a larger candidate is not what tierpack or cosign writes and is
// passed over.
const MaxReferrerManifestSize = 1 << 20

// MaxListedReferrers bounds the referrers a registry may list for one
// manifest: past it, listing stops with ErrTooManyReferrers rather than
// follow a hostile registry's pages for ever.
const MaxListedReferrers = 4096

// MaxReferrerPages bounds the pages of one referrers listing: a registry
// that sends empty pages, or tiny ones, with a next link for ever is cut
// off there too, not only by the count of referrers.
const MaxReferrerPages = 128

// ErrTooManyReferrers is wrapped when a manifest has more referrers than
// MaxListedReferrers, or more of an unknown artifactType than Referrers is
// allowed to inspect.
var ErrTooManyReferrers = errors.New("too many referrers to inspect")

// ReferrersOptions tune ReferrersWith. The zero value is ready to use.
type ReferrersOptions struct {
	// MaxChecks bounds how many candidate manifests whose listed
	// artifactType is empty or differs from the one asked for are fetched
	// and inspected; zero means DefaultMaxReferrerChecks. More candidates
	// than that fail with ErrTooManyReferrers rather than being passed over
	// in silence.
	MaxChecks int
	// MaxManifestSize bounds each inspected manifest; zero means
	// MaxReferrerManifestSize. Larger candidates are passed over.
	MaxManifestSize int64
}

// ReferrersTag is the tag of the referrers tag schema (OCI distribution
// spec 1.1, "referrers tag schema") for a manifest digest: sha256-<hex>.
// Clients write an index of the referrers there when a registry has no
// referrers API.
func ReferrersTag(d digest.Digest) string {
	return d.Algorithm().String() + "-" + d.Encoded()
}

// Referrers is ReferrersWith with the zero ReferrersOptions.
func Referrers(ctx context.Context, store content.ReadOnlyGraphStorage, subject ocispec.Descriptor, artifactType string) ([]ocispec.Descriptor, error) {
	return ReferrersWith(ctx, store, subject, artifactType, ReferrersOptions{})
}

// ReferrersWith returns the manifests whose subject is subject and whose
// artifactType is artifactType (every referrer when it is empty), in the
// order found, each once. A descriptor carries the artifactType and
// annotations the registry listed, or the manifest's own when it had to be
// read.
//
// It does not trust one source or one answer. Candidates come from the
// referrers API when store has one (a *remote.Repository is asked afresh,
// even when it fell back to the tag schema earlier), from the store's
// predecessors graph otherwise (an OCI layout, memory), and in both cases
// also from the referrers tag schema index (tag ReferrersTag) when the
// store resolves tags, since registries and clients disagree on which to
// write. A candidate listed with an empty or another artifactType — some
// registries report the config media type, e.g. application/vnd.oci.empty.v1+json
// — is fetched (bounded by opts) and judged by its own artifactType, or
// its config media type for writers older than OCI 1.1; inspected
// candidates whose subject is another manifest (a stale tag-schema index)
// are dropped.
//
// A subject or repository that does not exist has no referrers (no error).
func ReferrersWith(ctx context.Context, store content.ReadOnlyGraphStorage, subject ocispec.Descriptor, artifactType string, opts ReferrersOptions) ([]ocispec.Descriptor, error) {
	if opts.MaxChecks <= 0 {
		opts.MaxChecks = DefaultMaxReferrerChecks
	}
	if opts.MaxManifestSize <= 0 {
		opts.MaxManifestSize = MaxReferrerManifestSize
	}
	if err := subject.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("listing referrers: subject digest %q: %w", subject.Digest, err)
	}
	candidates, err := memoized(ctx, store, subject, func() ([]candidate, error) {
		listed, err := listedReferrers(ctx, store, subject)
		if err != nil {
			return nil, err
		}
		tagged, err := taggedReferrers(ctx, store, subject, opts.MaxManifestSize)
		if err != nil {
			return nil, err
		}
		return append(listed, tagged...), nil
	})
	if err != nil {
		return nil, err
	}

	considered := map[digest.Digest]bool{}
	var out []ocispec.Descriptor
	checks := 0
	for _, c := range candidates {
		d := c.desc
		if considered[d.Digest] {
			continue
		}
		considered[d.Digest] = true
		// The referrers API's or the graph's own answer is taken as it is
		// when its artifactType is the one asked for (or none was asked
		// for); anything else, and every tag-schema entry (any client
		// writes that index, and it may be stale), is read to be sure.
		trusted := c.inspected || (!c.fromTag && (artifactType == "" || d.ArtifactType == artifactType))
		if !trusted {
			if !isInspectable(d) {
				continue
			}
			if checks >= opts.MaxChecks {
				return nil, fmt.Errorf("%w: %s has more than %d referrers whose artifactType must be checked by fetching them; delete stale referrers or raise ReferrersOptions.MaxChecks", ErrTooManyReferrers, subject.Digest, opts.MaxChecks)
			}
			checks++
			info, err := inspect(ctx, store, d, opts.MaxManifestSize)
			if err != nil {
				if skippable(err) {
					continue // dangling index entry, or not a referrer tierpack reads
				}
				return nil, fmt.Errorf("listing referrers of %s: inspecting %s: %w", subject.Digest, d.Digest, err)
			}
			if info.subject != subject.Digest {
				continue
			}
			d.ArtifactType, d.Annotations = info.artifactType, info.annotations
		}
		if artifactType != "" && d.ArtifactType != artifactType {
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

// candidate is a possible referrer and how much is known about it.
type candidate struct {
	desc ocispec.Descriptor
	// inspected: desc's artifactType and annotations were read from the
	// manifest itself, and its subject checked.
	inspected bool
	// fromTag: listed by a tag-schema index, which anyone may write.
	fromTag bool
}

// listedReferrers asks store's referrers API, or walks its predecessors.
// tooMany stops a listing past MaxListedReferrers referrers.
func tooMany(subject ocispec.Descriptor, n int) error {
	if n > MaxListedReferrers {
		return fmt.Errorf("%w: the registry lists more than %d referrers of %s", ErrTooManyReferrers, MaxListedReferrers, subject.Digest)
	}
	return nil
}

func listedReferrers(ctx context.Context, store content.ReadOnlyGraphStorage, subject ocispec.Descriptor) ([]candidate, error) {
	var out []candidate
	if repo, ok := store.(*remote.Repository); ok {
		// A Repository that once saw a push without OCI-Subject answers
		// from the tag schema only; ask the API with a fresh one. The tag
		// schema is read below anyway.
		api := freshRepository(repo)
		if err := api.SetReferrersCapability(true); err != nil {
			return nil, err
		}
		err := api.Referrers(ctx, subject, "", func(refs []ocispec.Descriptor) error {
			for _, r := range refs {
				out = append(out, candidate{desc: r})
			}
			return tooMany(subject, len(out))
		})
		if errors.Is(err, errdef.ErrTooManyPages) {
			return nil, fmt.Errorf("%w: the registry's referrers listing of %s did not end after %d pages (%d referrers): it is broken or hostile", ErrTooManyReferrers, subject.Digest, api.ReferrerListMaxPages, len(out))
		}
		if err != nil && !errors.Is(err, errdef.ErrUnsupported) && !notFound(err) {
			return nil, fmt.Errorf("listing referrers of %s: %w", subject.Digest, err)
		}
		return out, nil
	}
	if lister, ok := store.(registry.ReferrerLister); ok {
		err := lister.Referrers(ctx, subject, "", func(refs []ocispec.Descriptor) error {
			for _, r := range refs {
				out = append(out, candidate{desc: r})
			}
			return tooMany(subject, len(out))
		})
		if err != nil && !notFound(err) {
			return nil, fmt.Errorf("listing referrers of %s: %w", subject.Digest, err)
		}
		return out, nil
	}
	preds, err := store.Predecessors(ctx, subject)
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing referrers of %s: %w", subject.Digest, err)
	}
	for _, p := range preds {
		if !isInspectable(p) {
			continue
		}
		info, err := inspect(ctx, store, p, MaxReferrerManifestSize)
		if err != nil {
			if skippable(err) {
				continue
			}
			return nil, fmt.Errorf("listing referrers of %s: reading %s: %w", subject.Digest, p.Digest, err)
		}
		if info.subject != subject.Digest {
			continue // an index listing subject as a child, not a referrer
		}
		d := ocispec.Descriptor{MediaType: p.MediaType, Digest: p.Digest, Size: p.Size, ArtifactType: info.artifactType, Annotations: info.annotations}
		out = append(out, candidate{desc: d, inspected: true})
	}
	return out, nil
}

// notFound reports a missing subject or repository: errdef.ErrNotFound, or
// a registry's 404 answer (NAME_UNKNOWN from the referrers API).
func notFound(err error) bool {
	var er *errcode.ErrorResponse
	return errors.Is(err, errdef.ErrNotFound) || (errors.As(err, &er) && er.StatusCode == http.StatusNotFound)
}

// freshRepository copies repo's settings into a Repository whose referrers
// capability is not yet known.
func freshRepository(repo *remote.Repository) *remote.Repository {
	return &remote.Repository{
		Client:               repo.Client,
		Reference:            repo.Reference,
		PlainHTTP:            repo.PlainHTTP,
		ManifestMediaTypes:   repo.ManifestMediaTypes,
		TagListPageSize:      repo.TagListPageSize,
		ReferrerListPageSize: repo.ReferrerListPageSize,
		ReferrerListMaxPages: cmp.Or(repo.ReferrerListMaxPages, MaxReferrerPages),
		MaxMetadataBytes:     repo.MaxMetadataBytes,
		SkipReferrersGC:      repo.SkipReferrersGC,
		HandleWarning:        repo.HandleWarning,
	}
}

// taggedReferrers reads the referrers tag-schema index of subject, if store
// resolves tags and there is one.
func taggedReferrers(ctx context.Context, store content.ReadOnlyGraphStorage, subject ocispec.Descriptor, limit int64) ([]candidate, error) {
	resolver, ok := store.(content.Resolver)
	if !ok {
		return nil, nil
	}
	tag := ReferrersTag(subject.Digest)
	var desc ocispec.Descriptor
	err := Retry(ctx, 0, func() (err error) {
		desc, err = resolver.Resolve(ctx, tag)
		return err
	})
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing referrers of %s: resolving the referrers tag %s: %w", subject.Digest, tag, err)
	}
	if desc.MediaType != ocispec.MediaTypeImageIndex {
		return nil, nil // a tag by that name, but not a referrers index
	}
	var index ocispec.Index
	if err := FetchJSON(ctx, store, desc, limit, &index); err != nil {
		if errors.Is(err, errdef.ErrNotFound) || errors.Is(err, ErrTooLarge) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing referrers of %s: reading the referrers tag %s: %w", subject.Digest, tag, err)
	}
	out := make([]candidate, 0, len(index.Manifests))
	for _, m := range index.Manifests {
		out = append(out, candidate{desc: m, fromTag: true})
	}
	return out, nil
}

// skippable reports a candidate that cannot be a referrer worth reading:
// gone, too large, or not a manifest.
func skippable(err error) bool {
	return errors.Is(err, errdef.ErrNotFound) || errors.Is(err, ErrTooLarge) || errors.Is(err, errNotManifest)
}

// errNotManifest: a candidate is not an OCI manifest or index.
var errNotManifest = errors.New("not a manifest")

// isInspectable reports whether d is a manifest kind that can carry a
// subject.
func isInspectable(d ocispec.Descriptor) bool {
	switch d.MediaType {
	case ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex:
		return true
	}
	return false
}

// referrerInfo is what inspect learns from a referrer manifest.
type referrerInfo struct {
	subject      digest.Digest
	artifactType string
	annotations  map[string]string
}

// inspect fetches a candidate manifest (bounded) and reads its subject and
// real artifactType: artifactType, else (image manifests) the config media
// type, as the distribution spec says a registry should report it.
func inspect(ctx context.Context, store content.Fetcher, d ocispec.Descriptor, limit int64) (referrerInfo, error) {
	if !isInspectable(d) {
		return referrerInfo{}, errNotManifest
	}
	b, err := FetchAll(ctx, store, d, limit)
	if err != nil {
		return referrerInfo{}, err
	}
	var m struct {
		MediaType    string              `json:"mediaType"`
		ArtifactType string              `json:"artifactType"`
		Config       *ocispec.Descriptor `json:"config"`
		Subject      *ocispec.Descriptor `json:"subject"`
		Annotations  map[string]string   `json:"annotations"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return referrerInfo{}, fmt.Errorf("%w: %s: %v", errNotManifest, d.Digest, err)
	}
	info := referrerInfo{artifactType: m.ArtifactType, annotations: m.Annotations}
	if m.Subject != nil {
		info.subject = m.Subject.Digest
	}
	if info.artifactType == "" && d.MediaType == ocispec.MediaTypeImageManifest && m.Config != nil {
		info.artifactType = m.Config.MediaType
	}
	return info, nil
}
