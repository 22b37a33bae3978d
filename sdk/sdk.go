// Package sdk is what a tierpack plugin author imports.
//
// A plugin teaches tierpack one contribution type: it validates a contribution
// folder and packages it into files that become an OCI artifact's config and
// layers, and it unpacks pulled artifacts of that type. The host does
// everything else — it reads tierpack.yaml, enforces the tier policy,
// re-hashes what the plugin wrote, builds and signs the OCI manifest and
// talks to registries. A plugin never sees credentials or digests it must be
// trusted with.
//
// Plugins run out of process (hashicorp/go-plugin over gRPC on a local
// socket). A complete plugin is a main package:
//
//	package main
//
//	import (
//		"context"
//		"path"
//
//		"github.com/tierpack/tierpack/sdk"
//		"github.com/tierpack/tierpack/sdk/archive"
//	)
//
//	type rules struct{}
//
//	func (rules) Describe(context.Context) (sdk.Description, error) {
//		return sdk.Description{
//			Type:         "rules",
//			Version:      "0.1.0",
//			ArtifactType: "application/vnd.example.rules.v1",
//			MediaTypes:   []string{sdk.MediaTypeLayerTarGzip},
//			FilePatterns: []string{"*.yaml"},
//			Description:  "Falco rules files",
//		}, nil
//	}
//
//	func (rules) Validate(ctx context.Context, req sdk.ValidateRequest) ([]sdk.Diagnostic, error) {
//		// Problems with the contribution are diagnostics, not errors: an
//		// error means the plugin itself failed.
//		var diags []sdk.Diagnostic
//		for _, f := range req.Contribution.Files {
//			if ext := path.Ext(f); ext != ".yaml" && ext != ".md" {
//				diags = append(diags, sdk.Errorf(f, 0, "not a rules file").WithHint("rules files end in .yaml"))
//			}
//		}
//		return diags, nil
//	}
//
//	func (rules) Package(ctx context.Context, req sdk.PackageRequest) (sdk.PackageResult, error) {
//		// tierpack.yaml too, so that a pulled folder can be pushed again.
//		return sdk.PackageFiles(ctx, req, append([]string{"tierpack.yaml"}, req.Contribution.Files...))
//	}
//
//	func (rules) Unpack(ctx context.Context, req sdk.UnpackRequest) (sdk.UnpackResult, error) {
//		return sdk.UnpackLayers(ctx, req, archive.Limits{})
//	}
//
//	func main() { sdk.Serve(rules{}) }
//
// Build it as tierpack-plugin-<type> (name the module so, and `go build`
// does), put it in $TIERPACK_PLUGINS_DIR or publish it with `tierpack plugin
// push` and install it with `tierpack plugin install`, and tierpack uses it
// for every contribution whose tierpack.yaml says `type: <type>`.
// examples/plugins/falco-rules in the tierpack repository is a complete
// out-of-tree plugin, with its tests.
//
// Test it with package sdk/plugintest, from `go test`: it runs the binary as
// the host does and checks the rules below — handshake, Describe, Validate on
// a good and a bad contribution, deterministic Package, Unpack round trip,
// nothing on stdout. `tierpack plugin check BINARY` runs the same checks.
//
// Rules a plugin must keep:
//   - Never write to stdout: go-plugin uses it for the handshake. Log with
//     [Logger], which writes structured lines to stderr that the host shows
//     at the matching level.
//   - Write only inside the staging or output directory the host names.
//   - Be deterministic: the same contribution must give byte-identical files,
//     so re-pushing unchanged content uploads nothing. The helpers in
//     sdk/archive do this for tar+gzip and tar+zstd layers. Honour
//     PackageRequest.Compression if Describe lists MediaTypeLayerTarZstd.
//
// Everything the host and a plugin must agree on is defined under sdk/ and
// nowhere else: the go-plugin handshake and protocol version (Handshake,
// ProtocolVersion), the annotation keys tierpack writes (AnnotationTier and
// the other Annotation* constants), the media types it recognises
// (MediaType*), the tier names (TierContrib, TierRepository, TierOfficial),
// the tierpack.yaml format (package sdk/contrib) and how a host starts and
// talks to a plugin binary (package sdk/host). The host builds on these
// packages; they import nothing of the host's, so a plugin author's module
// gets the contract and nothing else.
//
// To debug a plugin, run it with TIERPACK_PLUGIN_DEBUG=1 under a debugger: it
// prints a TIERPACK_REATTACH_PLUGINS value for the host to attach to it
// instead of starting its own copy.
package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/tierpack/tierpack/sdk/archive"
)

// ModulePath is the SDK's Go module, tagged sdk/vX.Y.Z in tierpack's
// repository.
const ModulePath = "github.com/tierpack/tierpack/sdk"

// Version is the version of this SDK that the running binary was built
// with, reported to the host in Describe: from the binary's build
// information (an sdk/vX.Y.Z tag is "vX.Y.Z", an untagged commit a
// pseudo-version), "(devel)" when built from a checkout (the SDK's own
// module, a go.work workspace or a replace to a folder).
var Version = moduleVersion(debug.ReadBuildInfo())

func moduleVersion(bi *debug.BuildInfo, ok bool) string {
	if !ok {
		return "(unknown)"
	}
	if bi.Main.Path == ModulePath {
		return cmpOr(bi.Main.Version, "(devel)")
	}
	for _, d := range bi.Deps {
		if d.Path != ModulePath {
			continue
		}
		if d.Replace != nil {
			return cmpOr(d.Replace.Version, "(devel)")
		}
		return cmpOr(d.Version, "(devel)")
	}
	return "(devel)"
}

func cmpOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// ProtocolVersion is the plugin protocol version this sdk speaks
// (proto package tierpack.plugin.v1).
const ProtocolVersion = 1

// Packager is the interface a plugin implements. The host calls each method
// with a deadline; a method should honour ctx.
type Packager interface {
	// Describe says what the plugin packages.
	Describe(ctx context.Context) (Description, error)
	// Validate checks a contribution folder. Problems with the contribution
	// are returned as diagnostics; an error means the plugin itself failed.
	Validate(ctx context.Context, req ValidateRequest) ([]Diagnostic, error)
	// Package writes the artifact's config and layer files into
	// req.StagingDir and describes them.
	Package(ctx context.Context, req PackageRequest) (PackageResult, error)
	// Unpack turns digest-verified blobs back into a contribution folder in
	// req.OutputDir.
	Unpack(ctx context.Context, req UnpackRequest) (UnpackResult, error)
}

// Description is a plugin's answer to Describe.
type Description struct {
	// Type is the contribution type, e.g. "script": lower case letters,
	// digits and '-', at most 32 characters.
	Type string `json:"type"`
	// Version is the plugin's own version (semver).
	Version string `json:"version"`
	// SDKVersion is filled in by the sdk.
	SDKVersion string `json:"sdkVersion,omitempty"`
	// ArtifactType is the OCI artifactType of what Package produces.
	ArtifactType string `json:"artifactType"`
	// MediaTypes lists the config and layer media types Package produces.
	MediaTypes []string `json:"mediaTypes,omitempty"`
	// FilePatterns lists globs of the files the type expects.
	FilePatterns []string `json:"filePatterns,omitempty"`
	// Description is one line for `tierpack plugin list`.
	Description string `json:"description,omitempty"`
	// StandardUnpack declares that Unpack is UnpackLayers (tar, tar+gzip
	// and tar+zstd layers extracted as they are, nothing else): the host,
	// which records it with the plugin's pin, then pulls such artifacts by
	// extracting them itself with sdk/archive, without starting the plugin
	// (one process instead of two, and no plugin code sees the bytes).
	// Declare it only if it is true: the host does exactly that instead.
	StandardUnpack bool `json:"standardUnpack,omitempty"`
	// InstallDir is where `tierpack install` puts this type's artifacts
	// when neither -o nor the host's install configuration names a
	// folder: an absolute path in which {name} stands for the
	// installation's name, e.g. /etc/falco/rules.d/{name}. Empty means the
	// host's default, $TIERPACK_HOME/installed/{name}. A hint: the host
	// refuses one that is not absolute or leaves {name} out, and takes it
	// only from its own plugins and signed, pinned ones.
	InstallDir string `json:"installDir,omitempty"`
}

// Contribution is the contribution's tierpack.yaml as the host parsed it.
type Contribution struct {
	Name        string
	Version     string
	Type        string
	Tier        string
	Description string
	License     string
	// Files lists the files the manifest names, slash-separated, relative
	// to the contribution folder.
	Files []string
	// SpecJSON is the type-specific `spec` section as JSON; see DecodeSpec.
	SpecJSON []byte
	// ManifestYAML is the whole tierpack.yaml.
	ManifestYAML []byte
}

// DecodeSpec decodes the type-specific `spec` section into v, refusing
// fields v does not have so that typos are caught. An absent spec leaves v
// untouched.
func (c Contribution) DecodeSpec(v any) error {
	if len(c.SpecJSON) == 0 || string(c.SpecJSON) == "null" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(c.SpecJSON)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return fmt.Errorf("tierpack.yaml: spec.%s: expected %s, got %s", ute.Field, ute.Type, ute.Value)
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("tierpack.yaml: spec: unknown field %s (check its spelling against the %s plugin's documentation)", f, c.Type)
		}
		return fmt.Errorf("tierpack.yaml: spec: %w", err)
	}
	return nil
}

// ValidateRequest asks a plugin to check a contribution.
type ValidateRequest struct {
	// Dir is the absolute path of the contribution folder.
	Dir          string
	Contribution Contribution
}

// PackageRequest asks a plugin to package a contribution.
type PackageRequest struct {
	// Dir is the absolute path of the contribution folder.
	Dir          string
	Contribution Contribution
	// StagingDir is an empty directory to write config and layer files
	// into. The host removes it afterwards.
	StagingDir string
	// SourceDateEpoch is the time to stamp into archives, in seconds since
	// the Unix epoch (SOURCE_DATE_EPOCH); 0 means the epoch.
	SourceDateEpoch int64
	// Compression is how the host asks for tar layers to be compressed:
	// archive.Zstd, or archive.Gzip (the zero value). The host asks for zstd
	// only when the plugin's Description.MediaTypes lists
	// MediaTypeLayerTarZstd; PackageFiles honours it. Packaging must stay a
	// function of the request: the host re-packages with gzip to recognise
	// a version published before zstd, so that its digest does not move.
	Compression archive.Compression
}

// Platform names an OS and CPU architecture, as in the OCI image spec.
type Platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
}

// String returns os/arch[/variant].
func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Blob is one file of an artifact: a config or a layer.
type Blob struct {
	MediaType string
	// Path is relative to the staging directory (Package) or to the blobs
	// directory (Unpack), slash-separated.
	Path        string
	Annotations map[string]string
	// Digest and Size are set by the host in Unpack; the host ignores them
	// in Package and hashes the file itself.
	Digest string
	Size   int64
	// Platform is set in Unpack for blobs of a platform-specific manifest.
	Platform *Platform
}

// Manifest describes one OCI manifest the host should build.
type Manifest struct {
	// Platform is nil for a single-platform artifact.
	Platform *Platform
	// Config is nil for the OCI empty config.
	Config      *Blob
	Layers      []Blob
	Annotations map[string]string
	// ArtifactType overrides the plugin's artifact type for this manifest;
	// "-" means none (runnable container images carry no artifactType).
	ArtifactType string
}

// PackageResult is what Package wrote.
type PackageResult struct {
	// Manifests has one entry for a single-platform artifact, or one per
	// platform (each with Platform set) for an image index.
	Manifests []Manifest
	// Annotations proposed for the top-level manifest; the host's own
	// annotations win.
	Annotations map[string]string
	// Diagnostics found while packaging (warnings, infos).
	Diagnostics []Diagnostic
}

// UnpackRequest asks a plugin to unpack fetched blobs.
type UnpackRequest struct {
	// BlobsDir holds the fetched blobs; Blob.Path is relative to it.
	BlobsDir string
	// Config is nil when the artifact has the empty config.
	Config *Blob
	Layers []Blob
	// Annotations of the pulled manifest.
	Annotations map[string]string
	// OutputDir is an empty directory to unpack into; the host renames it
	// into place on success and removes it on failure.
	OutputDir string
	// Options the user passed on the command line (key=value).
	Options map[string]string
	// Budget bounds what Unpack writes: the limits of the whole pull
	// (--max-size, --max-file-size, --max-entries) and what earlier Unpack
	// calls of the same pull already spent. Spend it on every layer
	// (UnpackLayers does; pass &req.Budget to archive.ExtractWith, in
	// ExtractOptions.Budget, when extracting by hand). The zero value, from
	// a host older than this field, is the default limits.
	Budget archive.Budget
}

// UnpackResult is what Unpack wrote.
type UnpackResult struct {
	// Files written, relative to OutputDir.
	Files []string
}
