package main

import (
	"github.com/tierpack/tierpack/plugins/chart"
	"github.com/tierpack/tierpack/plugins/exporter"
	"github.com/tierpack/tierpack/plugins/script"
	"github.com/tierpack/tierpack/sdk"
)

// builtins are the plugins this binary serves itself, out of process.
var builtins = map[string]sdk.Packager{
	script.Type:   script.Plugin{},
	chart.Type:    chart.Plugin{},
	exporter.Type: exporter.Plugin{},
}

func builtinTypes() []string {
	out := make([]string, 0, len(builtins))
	for t := range builtins {
		out = append(out, t)
	}
	return out
}
