// Command tierpack-plugin-chart is tierpack's plugin for Helm charts. It is
// its own binary, not served by tierpack itself, because Helm and the
// Kubernetes libraries it links cost every tierpack process start-up time
// (their package initialisers run even when no chart is in sight).
//
// It is installed with tierpack by one command,
//
//	go install github.com/tierpack/tierpack/cmd/...@VERSION
//
// and tierpack finds it next to its own binary.
package main

import (
	"github.com/tierpack/tierpack/plugins/chart"
	"github.com/tierpack/tierpack/sdk"
)

func main() { sdk.Serve(chart.Plugin{}) }
