// Command scriptplugin serves tierpack's built-in script plugin as a
// stand-alone binary, for the tests of package plugintest: a real plugin
// that must pass every check.
package main

import (
	"github.com/tierpack/tierpack/plugins/script"
	"github.com/tierpack/tierpack/sdk"
)

func main() { sdk.Serve(script.Plugin{}) }
