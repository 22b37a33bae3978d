package main

import (
	"context"

	"github.com/tierpack/tierpack/plugins/exporter"
	"github.com/tierpack/tierpack/plugins/falcorules"
	"github.com/tierpack/tierpack/plugins/script"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
	"github.com/tierpack/tierpack/sdk/falco"
)

// builtin returns the plugin this binary serves itself, out of process,
// for typ. Only light plugins live here: a plugin that links heavy
// libraries (Helm, Kubernetes) is its own binary beside this one (see
// companions), so the host starts fast.
func builtin(typ string) (sdk.Packager, bool) {
	switch typ {
	case script.Type:
		return script.Plugin{}, true
	case exporter.Type:
		return exporter.Plugin{}, true
	case falcorules.Type:
		return falcorules.Plugin{}, true
	}
	return nil, false
}

// hostUnpack are the built-in types whose Unpack is the standard archive
// extraction: pull runs it in the host, starting no plugin process.
func hostUnpack() map[string]func(context.Context, sdk.UnpackRequest) (sdk.UnpackResult, error) {
	return map[string]func(context.Context, sdk.UnpackRequest) (sdk.UnpackResult, error){
		script.Type: script.Plugin{}.Unpack, falcorules.Type: falcorules.Plugin{}.Unpack,
	}
}

// hostFormats are the layer formats hostUnpack's extractions read.
func hostFormats() map[string]map[string]archive.Format {
	return map[string]map[string]archive.Format{script.Type: sdk.StandardFormats, falcorules.Type: falco.LayerFormats}
}

// hostInstallDirs are the built-in types' install-folder hints, from
// their own Describe answers (in this process: no plugin is started).
func hostInstallDirs() map[string]string {
	dirs := map[string]string{}
	for _, typ := range builtinTypes() {
		p, _ := builtin(typ)
		if d, err := p.Describe(context.Background()); err == nil && d.InstallDir != "" {
			dirs[typ] = d.InstallDir
		}
	}
	return dirs
}

// builtinTypes lists the types builtin serves.
func builtinTypes() []string { return []string{script.Type, exporter.Type, falcorules.Type} }

// companionTypes are the plugins that ship with tierpack as binaries of
// their own (cmd/tierpack-plugin-<type>), installed beside it by
// `go install github.com/tierpack/tierpack/cmd/...`. (The chart plugin's
// package is not imported for its Type: that would link Helm.)
func companionTypes() []string { return []string{"chart"} }
