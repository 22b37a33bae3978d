package artifact

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
)

// Falco's own artifacts are published by falcoctl, in formats of its own
// (falcosecurity/falcoctl, pkg/oci: constants.go, types.go, pusher): an
// image manifest whose config is falcoctl's ArtifactConfig (name,
// version, dependencies, requirements) and whose one layer is a tar.gz of
// the rules file, the plugin or the asset; plugins are an image index of
// one such manifest per platform. tierpack pulls and inspects them, and
// gives them a tier by attaching records, without changing their content
// or their format (Promote), so bringing Falco's artifacts into tiers
// needs no re-publishing. The media types are falcoctl's, copied as facts.
const (
	FalcoctlRulesfileConfig = "application/vnd.cncf.falco.rulesfile.config.v1+json"
	FalcoctlRulesfileLayer  = "application/vnd.cncf.falco.rulesfile.layer.v1+tar.gz"
	FalcoctlPluginConfig    = "application/vnd.cncf.falco.plugin.config.v1+json"
	FalcoctlPluginLayer     = "application/vnd.cncf.falco.plugin.layer.v1+tar.gz"
	FalcoctlAssetConfig     = "application/vnd.cncf.falco.asset.config.v1+json"
	FalcoctlAssetLayer      = "application/vnd.cncf.falco.asset.layer.v1+tar.gz"
)

// falcoctlTypes maps falcoctl's layer media types to its artifact types.
var falcoctlTypes = map[string]string{
	FalcoctlRulesfileLayer: "rulesfile",
	FalcoctlPluginLayer:    "plugin",
	FalcoctlAssetLayer:     "asset",
}

// FalcoctlConfig is falcoctl's ArtifactConfig, the config blob of its
// artifacts.
type FalcoctlConfig struct {
	Name         string `json:"name,omitempty"`
	Version      string `json:"version,omitempty"`
	Dependencies []struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"dependencies,omitempty"`
	Requirements []struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"requirements,omitempty"`
}

// falcoctlType is the falcoctl artifact type of a manifest ("rulesfile",
// "plugin", "asset"), "" for anything else.
func falcoctlType(m *ocispec.Manifest) string {
	if m == nil || len(m.Layers) != 1 {
		return ""
	}
	return falcoctlTypes[m.Layers[0].MediaType]
}

// FalcoctlConfigOf reads the config of info, a falcoctl artifact of t (for
// a plugin, its resolved platform's).
func FalcoctlConfigOf(ctx context.Context, t *target.Target, info *Info) (FalcoctlConfig, error) {
	var c FalcoctlConfig
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

// unpackFalcoctl unpacks a falcoctl artifact as falcoctl installs it: its
// tar.gz layer extracted into the output folder, with the same limits and
// path checks as any pull. No plugin runs: the host knows the format.
func unpackFalcoctl(ctx context.Context, req sdk.UnpackRequest) (sdk.UnpackResult, error) {
	budget := req.Budget
	for _, l := range req.Layers {
		if falcoctlTypes[l.MediaType] == "" {
			return sdk.UnpackResult{}, fmt.Errorf("layer %s has media type %q, not one of falcoctl's", l.Digest, l.MediaType)
		}
		f, err := os.Open(filepath.Join(req.BlobsDir, filepath.FromSlash(l.Path)))
		if err != nil {
			return sdk.UnpackResult{}, err
		}
		err = archive.ExtractWith(ctx, f, req.OutputDir, archive.ExtractOptions{Budget: &budget, Format: archive.FormatGzip})
		f.Close()
		if err != nil {
			return sdk.UnpackResult{}, fmt.Errorf("layer %s: %w", l.Digest, err)
		}
	}
	files, err := sdk.ListFiles(req.OutputDir)
	return sdk.UnpackResult{Files: files}, err
}
