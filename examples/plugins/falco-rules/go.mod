// An out-of-tree plugin: a module of its own that depends on the plugin SDK
// only (github.com/tierpack/tierpack/sdk), not on tierpack itself. Inside
// tierpack's repository the go.work at its root builds it against ./sdk;
// on its own it requires a tagged SDK: go get github.com/tierpack/tierpack/sdk@vX.Y.Z
module example.com/tierpack-plugin-rules

go 1.26.0

require (
	github.com/tierpack/tierpack/sdk v0.0.0-00010101000000-000000000000
	go.yaml.in/yaml/v3 v3.0.6
)
