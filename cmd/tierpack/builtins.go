package main

import (
	"github.com/tierpack/tierpack/plugins/chart"
	"github.com/tierpack/tierpack/plugins/exporter"
	"github.com/tierpack/tierpack/plugins/script"
	"github.com/tierpack/tierpack/sdk"
)

// builtin returns the plugin this binary serves itself, out of process,
// for typ.
func builtin(typ string) (sdk.Packager, bool) {
	switch typ {
	case script.Type:
		return script.Plugin{}, true
	case chart.Type:
		return chart.Plugin{}, true
	case exporter.Type:
		return exporter.Plugin{}, true
	}
	return nil, false
}

// builtinTypes lists the types builtin serves.
func builtinTypes() []string { return []string{script.Type, chart.Type, exporter.Type} }
