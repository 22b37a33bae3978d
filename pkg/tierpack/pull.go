package tierpack

import (
	"context"
	"errors"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/trust"
	"github.com/tierpack/tierpack/sdk/archive"
	"github.com/tierpack/tierpack/sdk/tier"
)

// PullRequest asks for an artifact to be fetched and unpacked.
type PullRequest struct {
	Ref string
	// OutputDir is where the contribution goes; empty means ./NAME.
	OutputDir string
	// MinTier refuses artifacts the trust gate does not admit at this tier;
	// tier.None accepts everything.
	MinTier tier.Tier
	// Force replaces an existing, non-empty OutputDir (atomically).
	Force bool
	// Platform selects from an index: OS/ARCH[/VARIANT]; empty means this
	// machine's.
	Platform string
	// AllPlatforms pulls every platform, each into OutputDir/OS-ARCH.
	AllPlatforms bool
	// KeyFiles are trusted public keys beyond the configured ones.
	KeyFiles []string
	// Options are passed to the plugin's Unpack.
	Options map[string]string
	// Progress, if set, is told about each blob.
	Progress oci.Progress
	// Limits bound what the whole pull unpacks (all layers and platforms
	// together); zero fields are the defaults. See artifact.PullOptions.
	Limits archive.Limits
}

// PullResult reports what Pull wrote and the tier the gate found.
type PullResult struct {
	*artifact.PullResult
	// ClaimedTier is the tier annotation; VerifiedTier the tier a trusted
	// record proves ("" when nothing above contrib is proven).
	ClaimedTier  string `json:"claimedTier"`
	VerifiedTier string `json:"verifiedTier"`
	// Verdict is the gate's finding, for display.
	Verdict trust.Verdict `json:"-"`
}

// Pull resolves req.Ref, passes it through the trust gate at req.MinTier,
// then fetches and verifies every blob and has the type's plugin unpack it
// into the output folder, which appears complete or not at all.
func (c *Client) Pull(ctx context.Context, req PullRequest) (*PullResult, error) {
	plat, err := platformFor(req)
	if err != nil {
		return nil, err
	}
	a, err := c.openVerified(ctx, req.Ref, req.KeyFiles, plat)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	t, info, verdict := a.t, a.info, a.verdict
	if err := trust.Admit(t.Ref.String(), verdict, req.MinTier); err != nil {
		var re *trust.RefusedError
		if errors.As(err, &re) && verdict.Demoted {
			re.Instead = c.newestAdmitted(ctx, a, req.MinTier)
		}
		return nil, err
	}
	plugins, err := c.plugins()
	if err != nil {
		return nil, err
	}
	defer plugins.Close()
	res, err := artifact.Pull(ctx, plugins, t, artifact.PullOptions{
		Resolved:     info, // exactly what the gate admitted, not the tag again
		OutputDir:    req.OutputDir,
		Force:        req.Force,
		Platform:     plat,
		AllPlatforms: req.AllPlatforms,
		Options:      req.Options,
		Progress:     req.Progress,
		Limits:       req.Limits,
		HostUnpack:   c.HostUnpack[info.Type],
		HostFormats:  c.HostFormats[info.Type],
	})
	if err != nil {
		return nil, c.pluginHint(err, info.Type)
	}
	return &PullResult{PullResult: res, ClaimedTier: verdict.Claimed.String(), VerifiedTier: verdict.VerifiedName(), Verdict: verdict}, nil
}

// platformFor is the platform req pulls: the one it names, none with
// AllPlatforms, else this machine's.
func platformFor(req PullRequest) (*ocispec.Platform, error) {
	if req.AllPlatforms {
		if req.Platform != "" {
			return nil, usagef("{Platform} and {AllPlatforms} exclude each other")
		}
		return nil, nil
	}
	if req.Platform == "" {
		p := oci.CurrentPlatform()
		return &p, nil
	}
	parts := strings.Split(req.Platform, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return nil, usagef("{Platform} %q: use OS/ARCH[/VARIANT], e.g. linux/amd64", req.Platform)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return &p, nil
}

// maxAlternatives bounds the versions newestAdmitted verifies.
const maxAlternatives = 16

// newestAdmitted is the newest other version (semver tag) of a's
// repository that the gate admits at want, "REPO:TAG", or "" when none of
// the newest maxAlternatives is: what a refused pull of a demoted version
// offers instead. It is best effort: errors only end the search.
func (c *Client) newestAdmitted(ctx context.Context, a *verified, want tier.Tier) string {
	if a.t.Ref.Kind != target.Remote && a.t.Ref.Kind != target.Layout {
		return ""
	}
	cand, _, err := c.newestAt(ctx, a.t, a.gate, want, versionPick{}, a.t.Ref.Tag, maxAlternatives)
	if err != nil || cand == nil {
		return ""
	}
	return cand.ref
}
