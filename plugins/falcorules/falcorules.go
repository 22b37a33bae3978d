// Package falcorules is the built-in plugin for Falco rules files, pushed
// in falcoctl's rulesfile format, so that what tierpack pushes
// `falcoctl artifact install` installs, and what falcoctl pushed tierpack
// pulls (see pkg/artifact's falcoctl.go): an image manifest with no
// artifactType, falcoctl's config (name, version, dependencies,
// requirements; media type application/vnd.cncf.falco.rulesfile.config.v1+json)
// and one tar.gz layer of the rules files
// (application/vnd.cncf.falco.rulesfile.layer.v1+tar.gz). The layer holds
// the rules files only — falcoctl extracts it into Falco's rules folder,
// where a tierpack.yaml or a README would be read as rules — and tierpack's
// own metadata travels in the manifest's annotations, as for every type.
package falcorules

import (
	"context"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/falco"
)

// Type is the contribution type.
const Type = "falco-rules"

// Version is the plugin's version.
const Version = "0.1.0"

// Plugin implements sdk.Packager for Falco rules files.
type Plugin struct{}

var _ sdk.Packager = Plugin{}

// Spec is the type's spec in tierpack.yaml: what falcoctl's config
// carries beside the name and version.
type Spec struct {
	// Requirements are Falco capabilities the rules need, e.g.
	// {name: engine_version_semver, version: 0.31.0}.
	Requirements []falco.Dependency `yaml:"requirements"`
	// Dependencies are artifacts the rules need, e.g. a plugin:
	// {name: k8saudit, version: 0.7.0}.
	Dependencies []falco.Dependency `yaml:"dependencies"`
}

// Describe implements sdk.Packager.
func (Plugin) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Type:         Type,
		Version:      Version,
		ArtifactType: falco.RulesfileConfigMediaType,
		MediaTypes:   []string{falco.RulesfileConfigMediaType, falco.RulesfileLayerMediaType},
		FilePatterns: []string{"*.yaml", "*.yml"},
		Description:  "Falco rules files, pushed in falcoctl's rulesfile format (falcoctl artifact install installs them)",
	}, nil
}

// rulesFiles are the contribution's .yaml and .yml files.
func rulesFiles(dir string, c sdk.Contribution) ([]string, error) {
	files, err := sdk.ExpandFiles(dir, c.Files)
	if err != nil {
		return nil, err
	}
	var rules []string
	for _, f := range files {
		if ext := strings.ToLower(path.Ext(f)); (ext == ".yaml" || ext == ".yml") && f != "tierpack.yaml" {
			rules = append(rules, f)
		}
	}
	return rules, nil
}

// Validate implements sdk.Packager: every rules file is checked as Falco
// reads it (sdk/falco), and the spec as falcoctl's config.
func (Plugin) Validate(ctx context.Context, req sdk.ValidateRequest) ([]sdk.Diagnostic, error) {
	var diags []sdk.Diagnostic
	var spec Spec
	if err := req.Contribution.DecodeSpec(&spec); err != nil {
		diags = append(diags, sdk.Errorf("tierpack.yaml", 0, "%v", err).WithHint("spec takes requirements and dependencies, each a list of {name, version}"))
	}
	for _, d := range append(spec.Requirements, spec.Dependencies...) {
		if d.Name == "" || d.Version == "" {
			diags = append(diags, sdk.Errorf("tierpack.yaml", 0, "spec: each requirement and dependency needs a name and a version"))
		}
	}
	files, err := rulesFiles(req.Dir, req.Contribution)
	if err != nil {
		return nil, err
	}
	if all, err := sdk.ExpandFiles(req.Dir, req.Contribution.Files); err == nil && len(req.Contribution.Files) > 0 {
		for _, f := range all {
			if !slices.Contains(files, f) && f != "tierpack.yaml" {
				diags = append(diags, sdk.Warnf(f, 0, "not packaged: falcoctl installs the layer into Falco's rules folder, so it holds rules files only").
					WithHint("leave it out of files:, or keep it in the contribution's repository"))
			}
		}
	}
	seen := falco.Names{}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(filepath.Join(req.Dir, filepath.FromSlash(f)))
		if err != nil {
			diags = append(diags, sdk.Errorf(f, 0, "cannot read: %v", err))
			continue
		}
		diags = append(diags, falco.CheckFile(f, data, seen)...)
	}
	if len(files) == 0 {
		diags = append(diags, sdk.Errorf("tierpack.yaml", 0, "the contribution has no rules file").
			WithHint("add a Falco rules file ending in .yaml next to tierpack.yaml, or list it under files:"))
	}
	return diags, nil
}

// Package implements sdk.Packager: falcoctl's config and one tar.gz layer
// of the rules files.
func (Plugin) Package(ctx context.Context, req sdk.PackageRequest) (sdk.PackageResult, error) {
	var spec Spec
	if err := req.Contribution.DecodeSpec(&spec); err != nil {
		return sdk.PackageResult{}, err
	}
	files, err := rulesFiles(req.Dir, req.Contribution)
	if err != nil {
		return sdk.PackageResult{}, err
	}
	res, err := sdk.PackageFiles(ctx, req, files)
	if err != nil {
		return res, err
	}
	cfg, err := json.Marshal(falco.Config{Name: req.Contribution.Name, Version: req.Contribution.Version,
		Dependencies: spec.Dependencies, Requirements: spec.Requirements})
	if err != nil {
		return res, err
	}
	const configPath = "config.json"
	if err := os.WriteFile(filepath.Join(req.StagingDir, configPath), cfg, 0o644); err != nil {
		return res, err
	}
	m := &res.Manifests[0]
	m.Config = &sdk.Blob{MediaType: falco.RulesfileConfigMediaType, Path: configPath}
	m.Layers[0].MediaType = falco.RulesfileLayerMediaType
	m.ArtifactType = "-" // as falcoctl writes it: the config's media type says what it is
	return res, nil
}

// Unpack implements sdk.Packager: the rules files, extracted as falcoctl
// installs them.
func (Plugin) Unpack(ctx context.Context, req sdk.UnpackRequest) (sdk.UnpackResult, error) {
	return falco.UnpackLayers(ctx, req)
}
