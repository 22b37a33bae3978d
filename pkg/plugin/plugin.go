package plugin

import (
	"context"
	"fmt"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/host"
)

// Plugin is a running plugin process, started by a Manager. Its methods
// bound each call with the Manager's timeouts and translate failures into
// the package's errors (package sdk/host does both).
type Plugin struct {
	Source      Source
	Description sdk.Description

	h *host.Plugin
}

// Pid returns the plugin's process id (0 when attached in debug mode).
func (p *Plugin) Pid() int { return p.h.Pid() }

// Confinement says what the plugin's sandbox enforces (host.Plugin's).
func (p *Plugin) Confinement() string { return p.h.Confinement() }

// Protocol returns the tierpack plugin protocol version negotiated with the
// plugin.
func (p *Plugin) Protocol() int { return p.h.Protocol() }

// Describe returns the plugin's Describe answer, as cached at start.
func (p *Plugin) Describe() sdk.Description { return p.Description }

// Validate checks a contribution.
func (p *Plugin) Validate(ctx context.Context, req sdk.ValidateRequest) ([]sdk.Diagnostic, error) {
	return p.h.Validate(ctx, req)
}

// Package packages a contribution into req.StagingDir.
func (p *Plugin) Package(ctx context.Context, req sdk.PackageRequest) (sdk.PackageResult, error) {
	return p.h.Package(ctx, req)
}

// Unpack unpacks fetched blobs into req.OutputDir.
func (p *Plugin) Unpack(ctx context.Context, req sdk.UnpackRequest) (sdk.UnpackResult, error) {
	return p.h.Unpack(ctx, req)
}

// Init asks the plugin to scaffold a contribution; the error wraps
// sdk.ErrInitUnsupported when the plugin does not.
func (p *Plugin) Init(ctx context.Context, req sdk.InitRequest) (sdk.InitResult, error) {
	return p.h.Init(ctx, req)
}

// Name is how messages name a plugin from src: `plugin "rules"
// (/path/tierpack-plugin-rules)` or `built-in plugin "script"`.
func (src Source) Name() string {
	if src.Builtin {
		return fmt.Sprintf("built-in plugin %q", src.Type)
	}
	return fmt.Sprintf("plugin %q (%s)", src.Type, src.Path)
}
