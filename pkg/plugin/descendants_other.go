//go:build !linux

package plugin

// RunEnv marks a plugin's processes with the plugin's own folder (used on
// Linux only; see descendants_linux.go).
const RunEnv = "TIERPACK_PLUGIN_RUN"

func becomeSubreaper()  {}
func killMarked(string) {}
func reapStale()        {}
