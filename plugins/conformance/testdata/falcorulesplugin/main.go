// Command falcorulesplugin serves tierpack's built-in falco-rules plugin as
// a stand-alone binary, for the conformance harness.
package main

import (
	"github.com/tierpack/tierpack/plugins/falcorules"
	"github.com/tierpack/tierpack/sdk"
)

func main() { sdk.Serve(falcorules.Plugin{}) }
