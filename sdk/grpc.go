package sdk

import (
	"context"
	"fmt"
	"math"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tierpack/tierpack/sdk/archive"
	pluginv1 "github.com/tierpack/tierpack/sdk/proto/tierpack/plugin/v1"
)

// Handshake is the go-plugin handshake shared by the host and every plugin.
// The cookie is not a secret: it only stops a plugin binary from being run
// by hand as if it were a normal program.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "TIERPACK_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "7b1f0c9e-tierpack-packager-e3a2d54c",
}

// PluginName is the name the Packager is dispensed under.
const PluginName = "packager"

// MaxMessageSize bounds a gRPC message in either direction. Layer bytes
// never travel in messages, so this only needs to hold diagnostics and file
// lists; go-plugin's server would otherwise default to 4 MiB.
const MaxMessageSize = 64 << 20

// GRPCPlugin adapts a Packager to go-plugin. The host uses it with a nil
// Impl to get a client; a plugin binary uses it through Serve.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the plugin's implementation; nil on the host side.
	Impl Packager
}

// PluginSets returns the versioned plugin sets for go-plugin: one entry per
// protocol version this sdk speaks.
func PluginSets(impl Packager) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginName: &GRPCPlugin{Impl: impl}},
	}
}

// GRPCServer registers the Packager service.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterPackagerServer(s, &grpcServer{impl: p.Impl})
	return nil
}

// GRPCClient returns a Packager that calls the plugin process.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &grpcClient{c: pluginv1.NewPackagerClient(c)}, nil
}

// grpcServer runs in the plugin process.
type grpcServer struct {
	pluginv1.UnimplementedPackagerServer
	impl Packager
}

func (s *grpcServer) Describe(ctx context.Context, _ *pluginv1.DescribeRequest) (*pluginv1.DescribeResponse, error) {
	d, err := s.impl.Describe(ctx)
	if err != nil {
		return nil, err
	}
	return &pluginv1.DescribeResponse{
		Type:           d.Type,
		Version:        d.Version,
		SdkVersion:     Version,
		ArtifactType:   d.ArtifactType,
		MediaTypes:     d.MediaTypes,
		FilePatterns:   d.FilePatterns,
		Description:    d.Description,
		StandardUnpack: d.StandardUnpack,
		InstallDir:     d.InstallDir,
	}, nil
}

func (s *grpcServer) Validate(ctx context.Context, req *pluginv1.ValidateRequest) (*pluginv1.ValidateResponse, error) {
	diags, err := s.impl.Validate(ctx, ValidateRequest{Dir: req.GetDir(), Contribution: contributionFromPB(req.GetContribution())})
	if err != nil {
		return nil, err
	}
	return &pluginv1.ValidateResponse{Diagnostics: diagnosticsToPB(diags)}, nil
}

func (s *grpcServer) Package(ctx context.Context, req *pluginv1.PackageRequest) (*pluginv1.PackageResponse, error) {
	res, err := s.impl.Package(ctx, PackageRequest{
		Dir:             req.GetDir(),
		Contribution:    contributionFromPB(req.GetContribution()),
		StagingDir:      req.GetStagingDir(),
		SourceDateEpoch: req.GetSourceDateEpoch(),
		Compression:     archive.Compression(req.GetCompression()),
	})
	if err != nil {
		return nil, err
	}
	out := &pluginv1.PackageResponse{Annotations: res.Annotations, Diagnostics: diagnosticsToPB(res.Diagnostics)}
	for _, m := range res.Manifests {
		pm := &pluginv1.Manifest{
			Platform:     platformToPB(m.Platform),
			Config:       blobToPB(m.Config),
			Annotations:  m.Annotations,
			ArtifactType: m.ArtifactType,
		}
		for i := range m.Layers {
			pm.Layers = append(pm.Layers, blobToPB(&m.Layers[i]))
		}
		out.Manifests = append(out.Manifests, pm)
	}
	return out, nil
}

func (s *grpcServer) Unpack(ctx context.Context, req *pluginv1.UnpackRequest) (*pluginv1.UnpackResponse, error) {
	r := UnpackRequest{
		BlobsDir:    req.GetBlobsDir(),
		Config:      blobFromPB(req.GetConfig()),
		Annotations: req.GetAnnotations(),
		OutputDir:   req.GetOutputDir(),
		Options:     req.GetOptions(),
		Budget:      budgetFromPB(req.GetBudget()),
	}
	for _, l := range req.GetLayers() {
		r.Layers = append(r.Layers, *blobFromPB(l))
	}
	res, err := s.impl.Unpack(ctx, r)
	if err != nil {
		return nil, statusOf(err)
	}
	return &pluginv1.UnpackResponse{Files: res.Files}, nil
}

func (s *grpcServer) Init(ctx context.Context, req *pluginv1.InitRequest) (*pluginv1.InitResponse, error) {
	in, ok := s.impl.(Initializer)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "this plugin does not scaffold contributions")
	}
	r := InitRequest{Dir: req.GetDir(), Name: req.GetName(), Version: req.GetVersion(), Tier: req.GetTier()}
	for _, o := range req.GetOptions() {
		r.Options = append(r.Options, InitOption{Key: o.GetKey(), Value: o.GetValue()})
	}
	res, err := in.Init(ctx, r)
	if err != nil {
		return nil, err
	}
	out := &pluginv1.InitResponse{
		SpecYaml: res.SpecYAML, Name: res.Name, Version: res.Version, Description: res.Description,
		ManifestFiles: res.ManifestFiles, Notes: res.Notes, Next: res.Next,
	}
	for _, f := range res.Files {
		out.Files = append(out.Files, &pluginv1.InitFile{Path: f.Path, Content: f.Content, Mode: f.Mode, CopyFrom: f.CopyFrom})
	}
	return out, nil
}

// grpcClient runs in the host and implements Packager over gRPC.
type grpcClient struct {
	c pluginv1.PackagerClient
}

var callOpts = []grpc.CallOption{grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)}

func (c *grpcClient) Describe(ctx context.Context) (Description, error) {
	r, err := c.c.Describe(ctx, &pluginv1.DescribeRequest{HostProtocol: ProtocolVersion}, callOpts...)
	if err != nil {
		return Description{}, err
	}
	return Description{
		Type:           r.GetType(),
		Version:        r.GetVersion(),
		SDKVersion:     r.GetSdkVersion(),
		ArtifactType:   r.GetArtifactType(),
		MediaTypes:     r.GetMediaTypes(),
		FilePatterns:   r.GetFilePatterns(),
		Description:    r.GetDescription(),
		StandardUnpack: r.GetStandardUnpack(),
		InstallDir:     r.GetInstallDir(),
	}, nil
}

func (c *grpcClient) Validate(ctx context.Context, req ValidateRequest) ([]Diagnostic, error) {
	r, err := c.c.Validate(ctx, &pluginv1.ValidateRequest{Dir: req.Dir, Contribution: contributionToPB(req.Contribution)}, callOpts...)
	if err != nil {
		return nil, err
	}
	return diagnosticsFromPB(r.GetDiagnostics()), nil
}

func (c *grpcClient) Package(ctx context.Context, req PackageRequest) (PackageResult, error) {
	r, err := c.c.Package(ctx, &pluginv1.PackageRequest{
		Dir:             req.Dir,
		Contribution:    contributionToPB(req.Contribution),
		StagingDir:      req.StagingDir,
		SourceDateEpoch: req.SourceDateEpoch,
		Compression:     string(req.Compression),
	}, callOpts...)
	if err != nil {
		return PackageResult{}, err
	}
	res := PackageResult{Annotations: r.GetAnnotations(), Diagnostics: diagnosticsFromPB(r.GetDiagnostics())}
	for _, pm := range r.GetManifests() {
		m := Manifest{
			Platform:     platformFromPB(pm.GetPlatform()),
			Config:       blobFromPB(pm.GetConfig()),
			Annotations:  pm.GetAnnotations(),
			ArtifactType: pm.GetArtifactType(),
		}
		for _, l := range pm.GetLayers() {
			if l == nil {
				return PackageResult{}, fmt.Errorf("plugin returned a nil layer")
			}
			m.Layers = append(m.Layers, *blobFromPB(l))
		}
		res.Manifests = append(res.Manifests, m)
	}
	return res, nil
}

func (c *grpcClient) Unpack(ctx context.Context, req UnpackRequest) (UnpackResult, error) {
	pr := &pluginv1.UnpackRequest{
		BlobsDir:    req.BlobsDir,
		Config:      blobToPB(req.Config),
		Annotations: req.Annotations,
		OutputDir:   req.OutputDir,
		Options:     req.Options,
		Budget:      budgetToPB(req.Budget),
	}
	for i := range req.Layers {
		pr.Layers = append(pr.Layers, blobToPB(&req.Layers[i]))
	}
	r, err := c.c.Unpack(ctx, pr, callOpts...)
	if err != nil {
		return UnpackResult{}, err
	}
	return UnpackResult{Files: r.GetFiles()}, nil
}

// Init asks the plugin to scaffold a contribution; ErrInitUnsupported
// (wrapped) when it does not.
func (c *grpcClient) Init(ctx context.Context, req InitRequest) (InitResult, error) {
	pr := &pluginv1.InitRequest{Dir: req.Dir, Name: req.Name, Version: req.Version, Tier: req.Tier}
	for _, o := range req.Options {
		pr.Options = append(pr.Options, &pluginv1.InitOption{Key: o.Key, Value: o.Value})
	}
	r, err := c.c.Init(ctx, pr, callOpts...)
	if status.Code(err) == codes.Unimplemented {
		return InitResult{}, fmt.Errorf("%w: %s", ErrInitUnsupported, status.Convert(err).Message())
	}
	if err != nil {
		return InitResult{}, err
	}
	res := InitResult{
		SpecYAML: r.GetSpecYaml(), Name: r.GetName(), Version: r.GetVersion(), Description: r.GetDescription(),
		ManifestFiles: r.GetManifestFiles(), Notes: r.GetNotes(), Next: r.GetNext(),
	}
	for _, f := range r.GetFiles() {
		res.Files = append(res.Files, InitFile{Path: f.GetPath(), Content: f.GetContent(), Mode: f.GetMode(), CopyFrom: f.GetCopyFrom()})
	}
	return res, nil
}

func budgetToPB(b archive.Budget) *pluginv1.Budget {
	if b == (archive.Budget{}) {
		return nil
	}
	return &pluginv1.Budget{
		MaxFileSize: b.Limits.MaxFileSize, MaxTotalSize: b.Limits.MaxTotalSize, MaxEntries: int64(b.Limits.MaxEntries),
		UsedSize: b.Size, UsedEntries: int64(b.Entries),
	}
}

func budgetFromPB(b *pluginv1.Budget) archive.Budget {
	if b == nil {
		return archive.Budget{}
	}
	return archive.Budget{
		Limits: archive.Limits{MaxFileSize: b.GetMaxFileSize(), MaxTotalSize: b.GetMaxTotalSize(), MaxEntries: clampInt(b.GetMaxEntries())},
		Size:   max(b.GetUsedSize(), 0), Entries: max(clampInt(b.GetUsedEntries()), 0),
	}
}

// clampInt converts n to int, saturating where int is narrower.
func clampInt(n int64) int {
	if int64(int(n)) != n {
		if n < 0 {
			return math.MinInt
		}
		return math.MaxInt
	}
	return int(n)
}

func contributionToPB(c Contribution) *pluginv1.Contribution {
	return &pluginv1.Contribution{
		Name: c.Name, Version: c.Version, Type: c.Type, Tier: c.Tier,
		Description: c.Description, License: c.License, Files: c.Files,
		SpecJson: c.SpecJSON, ManifestYaml: c.ManifestYAML,
	}
}

func contributionFromPB(c *pluginv1.Contribution) Contribution {
	return Contribution{
		Name: c.GetName(), Version: c.GetVersion(), Type: c.GetType(), Tier: c.GetTier(),
		Description: c.GetDescription(), License: c.GetLicense(), Files: c.GetFiles(),
		SpecJSON: c.GetSpecJson(), ManifestYAML: c.GetManifestYaml(),
	}
}

func diagnosticsToPB(ds []Diagnostic) []*pluginv1.Diagnostic {
	out := make([]*pluginv1.Diagnostic, 0, len(ds))
	for _, d := range ds {
		out = append(out, &pluginv1.Diagnostic{
			Severity: pluginv1.Diagnostic_Severity(d.Severity),
			File:     d.File, Line: int32(d.Line), Column: int32(d.Column),
			Message: d.Message, Hint: d.Hint,
		})
	}
	return out
}

func diagnosticsFromPB(ds []*pluginv1.Diagnostic) []Diagnostic {
	out := make([]Diagnostic, 0, len(ds))
	for _, d := range ds {
		sev := Severity(d.GetSeverity())
		if sev < SeverityError || sev > SeverityInfo {
			// An unspecified or unknown severity must not hide a problem.
			sev = SeverityError
		}
		out = append(out, Diagnostic{
			Severity: sev, File: d.GetFile(), Line: int(d.GetLine()), Column: int(d.GetColumn()),
			Message: d.GetMessage(), Hint: d.GetHint(),
		})
	}
	return out
}

func platformToPB(p *Platform) *pluginv1.Platform {
	if p == nil {
		return nil
	}
	return &pluginv1.Platform{Os: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}

func platformFromPB(p *pluginv1.Platform) *Platform {
	if p == nil {
		return nil
	}
	return &Platform{OS: p.GetOs(), Architecture: p.GetArchitecture(), Variant: p.GetVariant()}
}

func blobToPB(b *Blob) *pluginv1.Blob {
	if b == nil {
		return nil
	}
	return &pluginv1.Blob{
		MediaType: b.MediaType, Path: b.Path, Annotations: b.Annotations,
		Digest: b.Digest, Size: b.Size, Platform: platformToPB(b.Platform),
	}
}

func blobFromPB(b *pluginv1.Blob) *Blob {
	if b == nil {
		return nil
	}
	return &Blob{
		MediaType: b.GetMediaType(), Path: b.GetPath(), Annotations: b.GetAnnotations(),
		Digest: b.GetDigest(), Size: b.GetSize(), Platform: platformFromPB(b.GetPlatform()),
	}
}
