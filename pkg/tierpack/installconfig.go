package tierpack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tierpack/tierpack/pkg/requires"
	"github.com/tierpack/tierpack/sdk/tier"
)

// InstallConfigFile is the installation commands' configuration, in the
// data folder ($TIERPACK_HOME/install.yaml), for a deployment that should
// not repeat its flags:
//
//	tier: official                 # install's --tier when it is not given
//	runtimes:                      # this machine's runtimes (--runtime adds and overrides)
//	  falco: 0.41.3
//	dirs:                          # install's -o per type, when it is not given
//	  falco-rules: /etc/falco/rules.d/{name}
//	  rulesfile: /etc/falco/rules.d/{name}
//
// {name} stands for the installation's name. Without a dirs entry, a
// type's plugin may say where its artifacts go (sdk.Description's
// InstallDir; the built-in falco-rules type says
// /etc/falco/rules.d/{name}); falcoctl's own types go where falcoctl puts
// them (rulesfile: /etc/falco/rules.d/{name}, plugin:
// /usr/share/falco/plugins/{name}); everything else goes to
// $TIERPACK_HOME/installed/{name}.
const InstallConfigFile = "install.yaml"

// InstallConfig is InstallConfigFile's content.
type InstallConfig struct {
	Tier     string            `yaml:"tier,omitempty"`
	Runtimes map[string]string `yaml:"runtimes,omitempty"`
	Dirs     map[string]string `yaml:"dirs,omitempty"`

	path string
}

// falcoctlInstallDirs are where falcoctl installs its artifact types.
var falcoctlInstallDirs = map[string]string{
	"rulesfile": "/etc/falco/rules.d/{name}",
	"plugin":    "/usr/share/falco/plugins/{name}",
}

// installConfig reads InstallConfigFile; its zero value when there is
// none.
func (c *Client) installConfig() (*InstallConfig, error) {
	cfg := &InstallConfig{}
	h, err := c.home()
	if err != nil {
		return cfg, nil
	}
	cfg.path = filepath.Join(h.Root(), InstallConfigFile)
	b, err := os.ReadFile(cfg.path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w (allowed: tier, runtimes, dirs)", cfg.path, err)
	}
	if cfg.Tier != "" {
		if _, err := tier.Parse(cfg.Tier); err != nil {
			return nil, fmt.Errorf("%s: tier: %w", cfg.path, err)
		}
	}
	for typ, dir := range cfg.Dirs {
		if err := checkInstallDir(dir); err != nil {
			return nil, fmt.Errorf("%s: dirs.%s: %w", cfg.path, typ, err)
		}
	}
	return cfg, nil
}

// tier is the configured tier, tier.None when there is none.
func (cfg *InstallConfig) tier() tier.Tier {
	t, _ := tier.Parse(cfg.Tier)
	return t
}

// runtimes are the configured runtimes with pairs (NAME=VERSION, from
// flags) over them; nil when there are none (not checked).
func (cfg *InstallConfig) runtimes(pairs []string) (requires.Runtimes, error) {
	var all []string
	for _, name := range slices.Sorted(maps.Keys(cfg.Runtimes)) {
		all = append(all, name+"="+cfg.Runtimes[name])
	}
	all = append(all, pairs...)
	if len(all) == 0 {
		return nil, nil
	}
	rt, err := requires.ParseRuntimes(all)
	if err != nil {
		return nil, usagef("{Runtime} %v", err)
	}
	return rt, nil
}

// checkInstallDir checks a per-type folder: absolute, with {name}.
func checkInstallDir(dir string) error {
	if !filepath.IsAbs(dir) || !strings.Contains(dir, "{name}") {
		return fmt.Errorf("%q: give an absolute folder with {name} in it, e.g. /etc/falco/rules.d/{name}", dir)
	}
	return nil
}

// defaultDir is where an artifact of typ named name goes when -o is not
// given: the configuration's folder for its type, its plugin's hint,
// falcoctl's folder for falcoctl's types, or $TIERPACK_HOME/installed/NAME.
func (c *Client) defaultDir(cfg *InstallConfig, typ, name string, falcoctl bool) (string, error) {
	dir := cfg.Dirs[typ]
	switch {
	case dir != "":
	case falcoctl:
		dir = falcoctlInstallDirs[typ]
	case typ != "":
		dir = c.installHint(typ)
	}
	if dir == "" {
		h, err := c.home()
		if err != nil {
			return "", usagef("no data folder to install into: give {OutputDir}, or set TIERPACK_HOME")
		}
		return filepath.Join(h.Root(), "installed", name), nil
	}
	return strings.ReplaceAll(dir, "{name}", name), nil
}

// installHint is typ's plugin's InstallDir, "" when it gives none (or a
// malformed one), or is not tierpack's own or signed. It is read from
// what is known without starting the plugin: the built-in types' table
// and a managed plugin's pin, recorded when it was installed.
func (c *Client) installHint(typ string) string {
	// Where the host writes is the host's to decide: a hint is taken from
	// tierpack's own plugins and from signed, pinned ones, not from an
	// unsigned or unmanaged binary.
	var dir string
	switch src, ok := c.pluginSource(typ); {
	case !ok:
	case src.Builtin:
		dir = c.HostInstallDirs[typ]
	case src.Managed && src.Pin != nil && src.Pin.Signer != "":
		dir = src.Pin.InstallDir
	}
	if dir != "" && checkInstallDir(dir) != nil {
		return ""
	}
	return dir
}
