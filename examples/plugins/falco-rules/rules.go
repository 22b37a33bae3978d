package main

import (
	"context"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
	"github.com/tierpack/tierpack/sdk/falco"
)

// Type is the contribution type this plugin serves.
const Type = "rules"

// Version is the plugin's version.
const Version = "0.1.0"

// ArtifactType is the OCI artifactType of what the plugin packages.
const ArtifactType = "application/vnd.example.falco.rules.v1"

// Plugin implements sdk.Packager for Falco rules files.
type Plugin struct{}

var _ sdk.Packager = Plugin{}

// Describe implements sdk.Packager.
func (Plugin) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Type:         Type,
		Version:      Version,
		ArtifactType: ArtifactType,
		MediaTypes:   []string{sdk.MediaTypeLayerTarGzip},
		FilePatterns: []string{"*.yaml", "*.yml"},
		Description:  "Falco rules files: rules, macros and lists, checked for the fields Falco requires",
		// Unpack below is sdk.UnpackLayers: tierpack may extract pulls of
		// this type itself, without starting the plugin.
		StandardUnpack: true,
	}, nil
}

// Validate implements sdk.Packager: every .yaml or .yml file of the
// contribution is a Falco rules file. Other files (README.md, LICENSE)
// travel along unchecked.
func (Plugin) Validate(ctx context.Context, req sdk.ValidateRequest) ([]sdk.Diagnostic, error) {
	var diags []sdk.Diagnostic
	var spec struct{}
	if err := req.Contribution.DecodeSpec(&spec); err != nil {
		diags = append(diags, sdk.Errorf("tierpack.yaml", 0, "%v", err).WithHint("the rules type has no spec fields: remove spec"))
	}
	files, err := sdk.ExpandFiles(req.Dir, req.Contribution.Files)
	if err != nil {
		return nil, err
	}
	more, err := falco.CheckFiles(ctx, req.Dir, files)
	if err != nil {
		return nil, err
	}
	return append(diags, more...), nil
}

// Package implements sdk.Packager: tierpack.yaml and the contribution's
// files as one deterministic tar+gzip layer.
func (Plugin) Package(ctx context.Context, req sdk.PackageRequest) (sdk.PackageResult, error) {
	return sdk.PackageFiles(ctx, req, append([]string{"tierpack.yaml"}, req.Contribution.Files...))
}

// Unpack implements sdk.Packager.
func (Plugin) Unpack(ctx context.Context, req sdk.UnpackRequest) (sdk.UnpackResult, error) {
	return sdk.UnpackLayers(ctx, req, archive.Limits{})
}
