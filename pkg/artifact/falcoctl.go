package artifact

import (
	"context"
	"encoding/json"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/sdk/falco"
)

// Falco's own artifacts are published by falcoctl, in formats of its own
// (falcosecurity/falcoctl, pkg/oci: constants.go, types.go, pusher): an
// image manifest whose config is falcoctl's ArtifactConfig (name,
// version, dependencies, requirements) and whose one layer is a tar.gz of
// the rules file, the plugin or the asset; plugins are an image index of
// one such manifest per platform. tierpack pulls and inspects them, and
// gives them a tier by attaching records, without changing their content
// or their format (Promote), so bringing Falco's artifacts into tiers
// needs no re-publishing. The media types and config are sdk/falco's.

// falcoctlType is the falcoctl artifact type of a manifest ("rulesfile",
// "plugin", "asset"), "" for anything else.
func falcoctlType(m *ocispec.Manifest) string {
	if m == nil || len(m.Layers) != 1 {
		return ""
	}
	return falco.LayerTypes[m.Layers[0].MediaType]
}

// falcoctlConfig is the descriptor of info's config in falcoctl's format:
// a falcoctl artifact's (for a plugin, its resolved platform's), or the
// config tierpack's own falco-rules type pushes in that format; nil for
// anything else.
func falcoctlConfig(info *Info) *ocispec.Descriptor {
	switch {
	case info.Falcoctl && info.falcoctlManifest != nil:
		return &info.falcoctlManifest.Config
	case info.Config != nil && falco.ConfigTypes[info.Config.MediaType] != "":
		return info.Config
	}
	return nil
}

// HasFalcoctlConfig reports whether info carries a config in falcoctl's
// format (FalcoctlConfigOf reads it).
func HasFalcoctlConfig(info *Info) bool { return falcoctlConfig(info) != nil }

// FalcoctlConfigOf reads info's config in falcoctl's format: a falcoctl
// artifact's, or one pushed by tierpack's falco-rules type.
func FalcoctlConfigOf(ctx context.Context, t *target.Target, info *Info) (falco.Config, error) {
	var c falco.Config
	desc := falcoctlConfig(info)
	if desc == nil {
		return c, fmt.Errorf("%s is not one of falcoctl's artifacts", t.Ref)
	}
	b, err := fetchManifest(ctx, t, *desc)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: falcoctl config: %w", t.Ref, err)
	}
	return c, nil
}
