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
		// Beside Falco's own rules folder; falco.yaml's rules_files
		// names it (Falco does not descend into rules.d's folders).
		InstallDir: "/etc/falco/rules.d/{name}",
	}, nil
}

// rulesFiles are the .yaml and .yml files among a contribution's files,
// tierpack.yaml left out.
func rulesFiles(files []string) []string {
	var rules []string
	for _, f := range files {
		if ext := strings.ToLower(path.Ext(f)); (ext == ".yaml" || ext == ".yml") && f != "tierpack.yaml" {
			rules = append(rules, f)
		}
	}
	return rules
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
	all, err := sdk.ExpandFiles(req.Dir, req.Contribution.Files)
	if err != nil {
		return nil, err
	}
	files := rulesFiles(all)
	if len(req.Contribution.Files) > 0 {
		for _, f := range all {
			if !slices.Contains(files, f) && f != "tierpack.yaml" {
				diags = append(diags, sdk.Warnf(f, 0, "not packaged: falcoctl installs the layer into Falco's rules folder, so it holds rules files only").
					WithHint("leave it out of files:, or keep it in the contribution's repository"))
			}
		}
	}
	more, err := falco.CheckFiles(ctx, req.Dir, files)
	if err != nil {
		return nil, err
	}
	return append(diags, more...), nil
}

// Package implements sdk.Packager: falcoctl's config and one tar.gz layer
// of the rules files.
func (Plugin) Package(ctx context.Context, req sdk.PackageRequest) (sdk.PackageResult, error) {
	var spec Spec
	if err := req.Contribution.DecodeSpec(&spec); err != nil {
		return sdk.PackageResult{}, err
	}
	all, err := sdk.ExpandFiles(req.Dir, req.Contribution.Files)
	if err != nil {
		return sdk.PackageResult{}, err
	}
	res, err := sdk.PackageFiles(ctx, req, rulesFiles(all))
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
