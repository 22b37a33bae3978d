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

// FalcoctlConfigOf reads the config of info, a falcoctl artifact of t (for
// a plugin, its resolved platform's).
func FalcoctlConfigOf(ctx context.Context, t *target.Target, info *Info) (falco.Config, error) {
	var c falco.Config
	if !info.Falcoctl || info.falcoctlManifest == nil {
		return c, fmt.Errorf("%s is not one of falcoctl's artifacts", t.Ref)
	}
	b, err := fetchManifest(ctx, t, info.falcoctlManifest.Config)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("falcoctl config: %w", err)
	}
	return c, nil
}
