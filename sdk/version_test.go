package sdk

import (
	"runtime/debug"
	"testing"
)

// TestVersionFromBuildInfo: the SDK's version is the one the binary was
// built with, read from its build information.
func TestVersionFromBuildInfo(t *testing.T) {
	dep := func(v string, r *debug.Module) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Path: "example.com/plugin"}, Deps: []*debug.Module{{Path: ModulePath, Version: v, Replace: r}}}
	}
	for _, tc := range []struct {
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{dep("v0.3.1", nil), true, "v0.3.1"},
		{dep("v0.0.0-20261206120000-abcdef123456", nil), true, "v0.0.0-20261206120000-abcdef123456"},
		{dep("v0.3.1", &debug.Module{Path: "../sdk"}), true, "(devel)"},
		{&debug.BuildInfo{Main: debug.Module{Path: ModulePath, Version: "(devel)"}}, true, "(devel)"},
		{&debug.BuildInfo{Main: debug.Module{Path: "example.com/other"}}, true, "(devel)"},
		{nil, false, "(unknown)"},
	} {
		if got := moduleVersion(tc.bi, tc.ok); got != tc.want {
			t.Errorf("moduleVersion(%+v) = %q, want %q", tc.bi, got, tc.want)
		}
	}
}
