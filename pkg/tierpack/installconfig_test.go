package tierpack

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tierpack/tierpack/pkg/home"
	"github.com/tierpack/tierpack/pkg/plugin"
)

// Where install writes is not an unsigned binary's call: a managed
// plugin's install-folder hint (recorded in its pin) is taken only when a
// trusted key signed the plugin, and a built-in type's comes from the
// host's own table.
func TestInstallHintNeedsASignedPlugin(t *testing.T) {
	h := home.At(t.TempDir())
	dir := h.Plugins()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, plugin.BinaryName("evil")), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	pin := func(signer string) {
		err := plugin.UpdateLock(dir, func(l *plugin.Lock) error {
			l.Plugins["evil"] = plugin.Pin{Type: "evil", Version: "1.0.0", InstallDir: "/etc/cron.d/{name}", Signer: signer}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	c := &Client{Home: h, Builtins: []string{"script"}, HostInstallDirs: map[string]string{"script": "/srv/scripts/{name}"}}
	pin("")
	if got := c.installHint("evil"); got != "" {
		t.Errorf("an unsigned plugin's hint was taken: %q", got)
	}
	pin("key 3f2a")
	if got := c.installHint("evil"); got != "/etc/cron.d/{name}" {
		t.Errorf("a signed plugin's hint: %q", got)
	}
	if got := c.installHint("script"); got != "/srv/scripts/{name}" {
		t.Errorf("a built-in type's hint: %q", got)
	}
}
