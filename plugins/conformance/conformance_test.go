// Package conformance runs sdk/plugintest's conformance harness against
// tierpack's own plugins (script, chart, exporter), each built as a plugin
// author would build theirs: the harness's tests of the SDK stay in the
// SDK's module, these of the host's plugins in the host's.
package conformance_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierpack/tierpack/sdk/plugintest"
)

// TestScriptPluginConforms runs the harness the way a plugin author does,
// against a real plugin: tierpack's script plugin built on its own.
func TestScriptPluginConforms(t *testing.T) {
	bin := plugintest.Build(t, "./testdata/scriptplugin")
	r := plugintest.Run(t, plugintest.Config{
		Binary: bin,
		Good:   "../../examples/scripts/falco-quickstart",
		Bad:    "testdata/bad-script",
	})
	if !r.Passed || len(r.Checks) != len(plugintest.Checks) {
		t.Fatalf("report: passed=%v, %d checks, want all %d to pass", r.Passed, len(r.Checks), len(plugintest.Checks))
	}
	for i, c := range r.Checks {
		if c.Name != plugintest.Checks[i] || c.Status != plugintest.Pass {
			t.Errorf("check %d = %s %s, want %s pass", i, c.Name, c.Status, plugintest.Checks[i])
		}
	}
	if r.Plugin == nil || r.Plugin.Type != "script" || r.Protocol != 1 {
		t.Errorf("report plugin = %+v, protocol %d", r.Plugin, r.Protocol)
	}
	bad, _ := r.Result(plugintest.CheckValidateBad)
	for _, want := range []string{"run.sh:1: error: script has no shebang line", "config.yaml:1: error: invalid YAML"} {
		if !strings.Contains(bad.Message, want) {
			t.Errorf("validate-bad message does not list %q: %s", want, bad.Message)
		}
	}
}

// TestInitCheck runs the init check against the real chart and exporter
// plugins: a chart like helm create's validates as it is; the exporter's Go
// skeleton validates once built, which its Init says.
func TestInitCheck(t *testing.T) {
	for _, tc := range []struct {
		pkg, good, want string
	}{
		{"../../cmd/tierpack-plugin-chart", "../../examples/charts/falco-rules-exporter", "validates"},
		{"./testdata/exporterplugin", "../../examples/exporters/falco-demo-exporter", "to run before validating: CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build"},
	} {
		t.Run(filepath.Base(tc.pkg), func(t *testing.T) {
			bin := plugintest.Build(t, tc.pkg)
			r := plugintest.Check(context.Background(), plugintest.Config{Binary: bin, Good: tc.good})
			res, _ := r.Result(plugintest.CheckInit)
			if res.Status != plugintest.Pass || !strings.Contains(res.Message, tc.want) {
				t.Errorf("init: %s %s, want pass saying %q", res.Status, res.Message, tc.want)
			}
		})
	}
}

// TestFalcoRulesPluginConforms runs the harness against the built-in
// falco-rules plugin.
func TestFalcoRulesPluginConforms(t *testing.T) {
	bin := plugintest.Build(t, "./testdata/falcorulesplugin")
	r := plugintest.Run(t, plugintest.Config{
		Binary: bin,
		Good:   "../../examples/rules/falco-shell-rules",
		Bad:    "testdata/bad-rules",
	})
	if !r.Passed {
		t.Fatalf("report: %+v", r.Checks)
	}
	bad, _ := r.Result(plugintest.CheckValidateBad)
	if !strings.Contains(bad.Message, `rule "No condition" has no condition`) {
		t.Errorf("validate-bad: %s", bad.Message)
	}
}
