// Command exporterplugin serves the built-in exporter plugin alone, for
// the conformance tests.
package main

import (
	"github.com/tierpack/tierpack/plugins/exporter"
	"github.com/tierpack/tierpack/sdk"
)

func main() { sdk.Serve(exporter.Plugin{}) }
