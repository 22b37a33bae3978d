// Command tierpack-plugin-rules is an out-of-tree tierpack plugin for Falco
// rules files: contributions of type "rules".
//
// It checks every .yaml file of a contribution the way Falco reads it: a
// YAML list whose items are each a rule, a macro or a list (or Falco's
// required_engine_version and required_plugin_versions). A rule needs desc,
// condition, output and priority, the priority one of EMERGENCY, ALERT,
// CRITICAL, ERROR, WARNING, NOTICE, INFORMATIONAL or DEBUG — unless it only
// appends to, overrides, or enables or disables an earlier rule. A macro
// needs a condition, a list its items. Diagnostics carry the file and line.
//
// It packages the contribution as one deterministic tar+gzip layer (the
// sdk's PackageFiles) and unpacks it with the sdk's hardened extraction.
//
// Build and use it:
//
//	go build                                   # ./tierpack-plugin-rules
//	TIERPACK_PLUGINS_DIR=$PWD tierpack validate testdata/good
//	go test                                    # unit tests + sdk/plugintest
package main

import "github.com/tierpack/tierpack/sdk"

func main() { sdk.Serve(Plugin{}) }
