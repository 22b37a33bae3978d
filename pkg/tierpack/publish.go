package tierpack

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore/pkg/signature"
	"oras.land/oras-go/v2/errdef"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/owners"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/trust"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/contrib"
	"github.com/tierpack/tierpack/sdk/tier"
)

// ValidateRequest asks for a contribution folder to be checked.
type ValidateRequest struct {
	Dir string
	// Strict treats warnings as errors (what the official tier requires).
	Strict bool
}

// ValidateResult is every finding about a contribution.
type ValidateResult struct {
	Dir         string           `json:"dir"`
	Valid       bool             `json:"valid"`
	Errors      int              `json:"errors"`
	Warnings    int              `json:"warnings"`
	Diagnostics []sdk.Diagnostic `json:"diagnostics"`
	Name        string           `json:"name,omitempty"`
	Type        string           `json:"type,omitempty"`
	Tier        tier.Tier        `json:"tier,omitempty"`
	Version     string           `json:"version,omitempty"`
}

// Validate reads DIR/tierpack.yaml and has the type's plugin check the
// files. A contribution with errors is a result with Valid false, not an
// error; errors are for what stopped the check itself.
func (c *Client) Validate(ctx context.Context, req ValidateRequest) (*ValidateResult, error) {
	res := &ValidateResult{Dir: req.Dir, Diagnostics: []sdk.Diagnostic{}}
	m, err := contrib.Load(req.Dir)
	var merrs contrib.Errors
	switch {
	case errors.As(err, &merrs):
		for _, e := range merrs {
			res.Diagnostics = append(res.Diagnostics, e.Diagnostic())
		}
	case err != nil:
		return nil, err
	default:
		res.Name, res.Type, res.Version = m.Name, m.Type, m.Version
		res.Tier = m.Tier
		plugins, err := c.plugins()
		if err != nil {
			return nil, err
		}
		defer plugins.Close()
		diags, err := artifact.Validate(ctx, plugins, m)
		if err != nil {
			return nil, c.pluginHint(err, m.Type)
		}
		res.Diagnostics = append(res.Diagnostics, diags...)
	}
	SortDiagnostics(res.Diagnostics)
	res.Errors = sdk.Count(res.Diagnostics, sdk.SeverityError)
	res.Warnings = sdk.Count(res.Diagnostics, sdk.SeverityWarning)
	res.Valid = res.Errors == 0 && (!req.Strict || res.Warnings == 0)
	return res, nil
}

// SortDiagnostics orders findings: errors first, then by file and line.
func SortDiagnostics(ds []sdk.Diagnostic) {
	sort.SliceStable(ds, func(i, j int) bool {
		if ds[i].Severity != ds[j].Severity {
			return ds[i].Severity < ds[j].Severity
		}
		if ds[i].File != ds[j].File {
			return ds[i].File < ds[j].File
		}
		return ds[i].Line < ds[j].Line
	})
}

// PublishRequest asks for a contribution to be validated, packaged and
// pushed.
type PublishRequest struct {
	Dir string
	// Ref is where to push; empty means the local store as NAME:VERSION.
	// Without a tag, the version from tierpack.yaml ('+' becomes '_').
	Ref string
	// Key signs the artifact and its tier record; the repository tier needs
	// one (the project's release or CI key).
	Key Key
	// By names who publishes, for the tier record (default: the user's
	// login name).
	By string
	// Progress, if set, is told about each blob.
	Progress oci.Progress
	// Replace lets the push move a registry's or layout's version tag that
	// already names another digest. Without it such a push is refused
	// (ErrVersionExists): a published version keeps its digest.
	Replace bool
	// Compression is artifact.PackOptions.Compression: auto (empty), gzip
	// or zstd. With auto, a version published with gzip layers (by a
	// tierpack from before zstd) is recognised by packaging it again with
	// gzip, so it keeps its digest and tag.
	Compression string
}

// ErrVersionExists is wrapped when a push would move a published
// version's tag to another digest.
var ErrVersionExists = errors.New("version already published with other content")

// PublishResult reports a push.
type PublishResult struct {
	Reference     string           `json:"reference"`
	Kind          string           `json:"kind"`
	Digest        string           `json:"digest"`
	MediaType     string           `json:"mediaType"`
	Size          int64            `json:"size"`
	Name          string           `json:"name"`
	Version       string           `json:"version"`
	Type          string           `json:"type"`
	Tier          tier.Tier        `json:"tier"`
	Uploaded      int              `json:"uploaded"`
	Skipped       int              `json:"skipped"`
	BytesUploaded int64            `json:"bytesUploaded"`
	Diagnostics   []sdk.Diagnostic `json:"diagnostics"`
	// Record is the digest of the signed tier record, when --key signed one.
	Record string `json:"record,omitempty"`
	// Pinned is the digest reference of what was pushed (REPO@DIGEST).
	Pinned string `json:"-"`
	// Local is true for the embedded local store.
	Local bool `json:"-"`
	// Unchanged is set when the version was there already with this
	// digest: nothing was uploaded, signed or tagged.
	Unchanged bool `json:"unchanged,omitempty"`
}

// Publish validates req.Dir with its type's plugin, packages it, passes it
// through the trust gate at the tier it claims, and pushes it. Nothing is
// pushed when validation or the gate refuses it, and the tag is written
// last, so a failed push never leaves a tag pointing at missing content.
// A *artifact.ValidationError carries the diagnostics of a refused
// contribution.
func (c *Client) Publish(ctx context.Context, req PublishRequest) (*PublishResult, error) {
	compression, err := artifact.ParseCompression(req.Compression)
	if err != nil {
		return nil, &UsageError{Err: err}
	}
	m, err := contrib.Load(req.Dir)
	if err != nil {
		return nil, err
	}
	ref, err := publishRef(m, req.Ref)
	if err != nil {
		return nil, err
	}
	gate, err := c.gate(nil)
	if err != nil {
		return nil, err
	}
	gate = gate.For(artifact.Identity(ref))
	plugins, err := c.plugins()
	if err != nil {
		return nil, err
	}
	defer plugins.Close()
	popts := artifact.PackOptions{Created: c.Created, Compression: compression}
	popts.Cache, _ = c.cache() // without a cache, packaging is only slower
	packed, err := artifact.Pack(ctx, plugins, m, popts)
	if errors.Is(err, artifact.ErrNoZstd) {
		return nil, &UsageError{Err: err}
	}
	if err != nil {
		return nil, c.pluginHint(err, m.Type)
	}
	defer func() { packed.Close() }() // packed may be replaced below
	var signer signature.SignerVerifier
	keyID := ""
	if req.Key.File != "" {
		if signer, err = req.Key.signer(); err != nil {
			return nil, err
		}
		id, _ := sign.SignerKeyID(signer)
		keyID = "key " + id
	}
	facts := trust.Contribution(packed.Owners, m.Source.URL, m.Source.Revision, m.License, m.Version,
		sdk.Count(packed.Diagnostics, sdk.SeverityWarning), keyID)
	if err := gate.Meets(m.Name+" ("+req.Dir+")", m.Tier, facts); err != nil {
		return nil, fmt.Errorf("%w\nnothing was pushed", err)
	}
	t, err := c.openRef(ctx, ref, false)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	// A published version keeps its digest: its tier records and
	// signatures are about that digest, and so is every installation of
	// it. The local store is a working area, where a version is rebuilt
	// freely.
	unchanged, missing := false, false
	if ref.Kind != target.Local {
		old, err := t.Store.Resolve(ctx, ref.Tag)
		missing = errors.Is(err, errdef.ErrNotFound)
		if err == nil {
			if old.Digest != packed.Root.Digest && packed.Zstd() && compression == artifact.CompressionAuto {
				// Published before zstd was this type's default? Package
				// it as then, with gzip: unchanged content gives the
				// published digest back.
				gopts := popts
				gopts.Compression = artifact.CompressionGzip
				if again, err := artifact.Pack(ctx, plugins, m, gopts); err == nil {
					if again.Root.Digest == old.Digest {
						packed.Close()
						packed = again
					} else {
						again.Close()
					}
				}
			}
			switch {
			case old.Digest == packed.Root.Digest:
				// Re-pushed unchanged (by this tierpack or a newer one):
				// nothing to upload, no tag to move, signed already (the
				// tag is written after the signatures).
				unchanged, signer = true, nil
			case !req.Replace:
				return nil, fmt.Errorf("%w: %s names %s; this push makes %s (other content, metadata or tier). A published version keeps its digest: its tier records, signatures and installations are about it, and a promoted version would fall back to its first tier. Publish a new version, or give --replace to move the tag on purpose; nothing was pushed",
					ErrVersionExists, ref, old.Digest, packed.Root.Digest)
			}
		}
	}
	// With a key, the tag is written after the signatures, so it never names
	// an artifact whose tier is not signed yet.
	tag := ref.Tag
	if signer != nil || unchanged {
		tag = ""
	}
	// The tag was just found missing: so is, almost surely, the manifest
	// (one request fewer, as many as oras push makes).
	var res oci.PushResult
	if unchanged {
		// The registry has the manifest under this tag, so it has every
		// blob it names: nothing to ask, nothing to send.
		root := packed.Root
		res = oci.PushResult{Digest: root.Digest.String(), MediaType: root.MediaType, Size: root.Size, Skipped: len(packed.Blobs)}
	} else if res, err = oci.PushBlobs(ctx, t.Store, packed.Blobs, tag, oci.PushOptions{Progress: req.Progress, RootMissing: missing}); err != nil {
		return nil, fmt.Errorf("pushing to %s: %w", ref, err)
	}
	var st artifact.SignedTier
	if signer != nil {
		root := ocispec.Descriptor{MediaType: res.MediaType, Digest: digest.Digest(res.Digest), Size: res.Size}
		if m.Tier >= tier.Repository {
			st, err = artifact.SignTier(ctx, t, artifact.TierStatement{
				Subject: root, To: m.Tier, Approvers: approvers(packed.Owners), By: signerName(req.By), Tool: c.Tool,
			}, signer)
		} else {
			_, err = artifact.SignAll(ctx, t, root, signer) // contrib proves nothing: no tier record
		}
		if err != nil {
			return nil, fmt.Errorf("signing %s: %w (pushed untagged; nothing points at it)", ref, err)
		}
		if err := oci.Retry(ctx, 0, func() error { return t.Store.Tag(ctx, root, ref.Tag) }); err != nil {
			return nil, fmt.Errorf("tagging %s: %w", ref, err)
		}
	}
	return &PublishResult{
		Record:    st.Record,
		Reference: ref.String(), Kind: ref.Kind.String(),
		Digest: res.Digest, MediaType: res.MediaType, Size: res.Size,
		Name: m.Name, Version: m.Version, Type: m.Type, Tier: m.Tier,
		Uploaded: res.Uploaded, Skipped: res.Skipped, BytesUploaded: res.BytesUploaded,
		Diagnostics: nonNil(packed.Diagnostics),
		Pinned:      ref.WithTag("").String() + "@" + res.Digest,
		Local:       ref.Kind == target.Local,
		Unchanged:   unchanged,
	}, nil
}

// publishRef is where a contribution goes: refStr, or the local store's
// NAME; tagged with the contribution's version when refStr has no tag.
func publishRef(m *contrib.Manifest, refStr string) (target.Ref, error) {
	ref := target.Ref{Kind: target.Local, Repository: m.Name}
	if refStr != "" {
		var err error
		if ref, err = parseRef(refStr); err != nil {
			return ref, err
		}
	}
	if ref.Digest != "" {
		return ref, usagef("%s: push to a tag, not a digest (the digest is computed from the content)", refStr)
	}
	if ref.Tag == "" {
		ref = ref.WithTag(contrib.TagFor(m.Version))
	}
	return ref, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func approvers(own *owners.File) []string {
	if own == nil {
		return nil
	}
	return own.Approvers
}
