package sdk_test

import (
	"context"
	"path"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
)

// rules is the plugin of the package documentation's example; this file
// keeps that example compiling.
type rules struct{}

func (rules) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Type:         "rules",
		Version:      "0.1.0",
		ArtifactType: "application/vnd.example.rules.v1",
		MediaTypes:   []string{sdk.MediaTypeLayerTarGzip},
		FilePatterns: []string{"*.yaml"},
		Description:  "Falco rules files",
	}, nil
}

func (rules) Validate(ctx context.Context, req sdk.ValidateRequest) ([]sdk.Diagnostic, error) {
	var diags []sdk.Diagnostic
	for _, f := range req.Contribution.Files {
		if ext := path.Ext(f); ext != ".yaml" && ext != ".md" {
			diags = append(diags, sdk.Errorf(f, 0, "not a rules file").WithHint("rules files end in .yaml"))
		}
	}
	return diags, nil
}

func (rules) Package(ctx context.Context, req sdk.PackageRequest) (sdk.PackageResult, error) {
	return sdk.PackageFiles(ctx, req, append([]string{"tierpack.yaml"}, req.Contribution.Files...))
}

func (rules) Unpack(ctx context.Context, req sdk.UnpackRequest) (sdk.UnpackResult, error) {
	return sdk.UnpackLayers(ctx, req, archive.Limits{})
}

// A plugin's main calls Serve and nothing else. (Compiled, not run: Serve
// waits for a host.)
func ExampleServe() {
	sdk.Serve(rules{})
}
