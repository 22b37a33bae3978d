// Command echoplugin is a small tierpack plugin for the tests of package
// host. Its Validate behaves according to the contribution's name: "crash"
// exits the process, "hang" never answers, "fail" returns an error, and any
// other name gets one warning diagnostic naming it.
//
// It lives in testdata so that `go build ./...` skips it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
)

type echo struct{}

// stderr is the process's own standard error, saved before sdk.Serve points
// os.Stderr at a stream that a dying process loses.
var stderr = os.Stderr

func (echo) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Type: "echo", Version: "1.0.0", ArtifactType: "application/vnd.example.echo.v1"}, nil
}

func (echo) Validate(ctx context.Context, req sdk.ValidateRequest) ([]sdk.Diagnostic, error) {
	switch req.Contribution.Name {
	case "crash":
		fmt.Fprintln(stderr, "echo: about to crash")
		os.Exit(3)
	case "hang":
		select {}
	case "fail":
		return nil, errors.New("echo cannot read its configuration")
	}
	return []sdk.Diagnostic{sdk.Warnf("", 0, "validated %s", req.Contribution.Name)}, nil
}

func (echo) Package(context.Context, sdk.PackageRequest) (sdk.PackageResult, error) {
	return sdk.PackageResult{}, errors.New("echo does not package")
}

func (echo) Unpack(_ context.Context, req sdk.UnpackRequest) (sdk.UnpackResult, error) {
	if req.Options["refuse"] == "true" {
		// A refusal of the content, as sdk/archive's extraction makes one.
		return sdk.UnpackResult{}, fmt.Errorf("%w: entry \"../x\" leaves the output folder", archive.ErrUnsafeEntry)
	}
	return sdk.UnpackResult{}, errors.New("echo does not unpack")
}

func main() { sdk.Serve(echo{}) }
