package tierpack

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/sdk"
)

// Version is the module version `go install …@VERSION` recorded in the
// running binary, or "dev" for a build from a checkout.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// VersionInfo is what `tierpack version` reports.
type VersionInfo struct {
	Version        string `json:"version"`
	SDKVersion     string `json:"sdkVersion"`
	PluginProtocol int    `json:"pluginProtocol"`
	Go             string `json:"go"`
	Platform       string `json:"platform"`
}

// Versions describes the running binary.
func Versions() *VersionInfo {
	return &VersionInfo{Version(), sdk.Version, sdk.ProtocolVersion, runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH}
}

// Environment variables ReadEnvironment reads.
const (
	StallTimeoutEnv    = "TIERPACK_STALL_TIMEOUT"
	SourceDateEpochEnv = "SOURCE_DATE_EPOCH"
	// PluginEnvEnv names, comma-separated, the variables of tierpack's
	// environment passed on to plugins, which get none otherwise (see
	// host.EnvAllowList).
	PluginEnvEnv = "TIERPACK_PLUGIN_ENV"
	// PluginSandboxEnv=off runs plugins unconfined, for debugging one; the
	// policy's requireSandbox then refuses third-party plugins.
	PluginSandboxEnv = "TIERPACK_PLUGIN_SANDBOX"
)

// ReadEnvironment sets what the environment decides for a program that
// ships with its companion plugins: the registry stall timeout
// ($TIERPACK_STALL_TIMEOUT), the plugin folders (the running executable's,
// so companions such as tierpack-plugin-chart are found beside it, then
// $TIERPACK_PLUGINS_DIR) and the creation time ($SOURCE_DATE_EPOCH, see
// reproducible-builds.org). A malformed SOURCE_DATE_EPOCH is a
// *UsageError: it would otherwise change every digest silently.
func (c *Client) ReadEnvironment() error {
	if v := os.Getenv(StallTimeoutEnv); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			c.Target.StallTimeout = d
		}
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			c.CompanionDir = filepath.Dir(exe)
			c.PluginDirs = append(c.PluginDirs, c.CompanionDir)
		}
	}
	c.PluginEnv = nil
	for _, name := range strings.Split(os.Getenv(PluginEnvEnv), ",") {
		if v, ok := os.LookupEnv(strings.TrimSpace(name)); ok && strings.TrimSpace(name) != "" {
			c.PluginEnv = append(c.PluginEnv, strings.TrimSpace(name)+"="+v)
		}
	}
	if v := os.Getenv(PluginSandboxEnv); v == "off" {
		c.NoSandbox = true
	}
	if d := os.Getenv(plugin.DirEnv); d != "" {
		c.PluginDirs = append(c.PluginDirs, filepath.SplitList(d)...)
	}
	if v := os.Getenv(SourceDateEpochEnv); v != "" {
		var sec int64
		if _, err := fmt.Sscan(v, &sec); err != nil || sec < 0 {
			return usagef("%s=%q is not a number of seconds since 1970", SourceDateEpochEnv, v)
		}
		c.Created = time.Unix(sec, 0).UTC()
	}
	return nil
}
