package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/pkg/plugin/dist"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/contrib"
	"github.com/tierpack/tierpack/sdk/plugintest"
)

// managedPluginDir is the plugin folder `tierpack plugin install` manages:
// $TIERPACK_HOME/plugins. Every binary there must match its pin in
// lock.json; "" when there is no data folder.
func managedPluginDir() string {
	d, err := target.DataDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "plugins")
}

const pluginRules = `Plugins are found in this order; the first one for a type wins:
   built-in                 the types served by tierpack itself: never shadowed
   $TIERPACK_PLUGINS_DIR    your own tierpack-plugin-<type> executables, run as they are
   $TIERPACK_HOME/plugins   managed by tierpack plugin install/remove: each binary there is
                            pinned by sha256 in lock.json, and one that no longer matches its
                            pin, or was copied there by hand, is refused (exit code 7)`

func pluginCommand() *cli.Command {
	return &cli.Command{
		Name:  "plugin",
		Usage: "list, check, publish and install the plugins that package each contribution type",
		Description: pluginRules + `

A plugin is published as an OCI image index (artifactType ` + dist.ArtifactType + `),
one manifest per platform: tierpack plugin push DIR REF, then tierpack plugin install REF.`,
		Subcommands: []*cli.Command{
			pluginListCommand(),
			pluginCheckCommand(),
			pluginPushCommand(),
			pluginInstallCommand(),
			pluginRemoveCommand(),
		},
	}
}

func pluginListCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "start every plugin once and show what it packages, where it comes from, and its pin",
		Description: pluginRules + `

A plugin that does not start, or no longer matches its pin, is listed with its error.

EXAMPLES:
   tierpack plugin list
   tierpack plugin list --output json`,
		Flags: []cli.Flag{outputFlag()},
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			m, err := pluginManager(c)
			if err != nil {
				return err
			}
			defer m.Close()
			srcs, err := m.Sources()
			if err != nil {
				return err
			}
			type row struct {
				plugin.Source
				Protocol    int              `json:"protocol,omitempty"`
				Description *sdk.Description `json:"describe,omitempty"`
				Error       string           `json:"error,omitempty"`
			}
			rows := []row{}
			listed := map[string]bool{}
			for _, s := range srcs {
				listed[s.Type] = true
				r := row{Source: s}
				p, err := m.Get(c.Context, s.Type)
				if err != nil {
					r.Error = err.Error()
				} else {
					d := p.Describe()
					r.Description = &d
					r.Protocol = p.Protocol()
				}
				rows = append(rows, r)
			}
			// A pin whose binary is gone is worth a line too.
			if dir := m.ManagedDir(); dir != "" {
				if lock, err := plugin.ReadLock(dir); err == nil {
					for _, t := range lock.Types() {
						pin := lock.Plugins[t]
						path := filepath.Join(dir, plugin.BinaryName(t))
						if _, err := os.Stat(path); err == nil {
							continue
						}
						r := row{Source: plugin.Source{Type: t, Path: path, Managed: true, Pin: &pin},
							Error: fmt.Sprintf("pinned in %s but %s is missing: reinstall it with `tierpack plugin install %s`, or forget it with `tierpack plugin remove %s`",
								filepath.Join(dir, plugin.LockFileName), path, pin.Source, t)}
						if !listed[t] {
							rows = append(rows, r)
						}
					}
				}
			}
			if asJSON {
				return printJSON(c.App.Writer, map[string]any{"plugins": rows, "dirs": m.Dirs(), "managedDir": m.ManagedDir()})
			}
			w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "TYPE\tVERSION\tPROTOCOL\tSOURCE\tPIN\tDESCRIPTION")
			for _, r := range rows {
				src, pin := r.Path, "unpinned"
				switch {
				case r.Builtin:
					src, pin = "built-in", "-"
				case r.Pin != nil:
					src, pin = r.Pin.Source, "sha256:"+r.Pin.SHA256[:min(12, len(r.Pin.SHA256))]
				}
				if r.Error != "" {
					fmt.Fprintf(w, "%s\t-\t-\t%s\t%s\tERROR: %s\n", r.Type, src, pin, r.Error)
					continue
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", r.Type, r.Description.Version, r.Protocol, src, pin, r.Description.Description)
				for _, s := range r.Shadowed {
					fmt.Fprintf(w, "\t\t\t  (shadows %s)\t\t\n", s)
				}
			}
			return w.Flush()
		},
	}
}

// checkFailed ends `plugin check` with exit code 7 once the report is out.
type checkFailed struct{ msg string }

func (e checkFailed) Error() string { return e.msg }

// ExitCode implements cli.ExitCoder.
func (checkFailed) ExitCode() int { return exitPlugin }

func pluginCheckCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "run the plugin conformance checks (sdk/plugintest) against a plugin binary",
		ArgsUsage: "BINARY",
		Description: `Starts BINARY as tierpack would and checks, in order: ` + strings.Join(plugintest.Checks, ", ") + `.
--good names a contribution the plugin must accept, package deterministically and unpack
back to the same files; --bad one it must reject with an error diagnostic. Checks that
need a missing folder are skipped. Each call is bounded by --plugin-timeout (default
here 30s). Exit code 7 when a check fails. Plugin authors run the same checks from
go test with package github.com/tierpack/tierpack/sdk/plugintest.

EXAMPLES:
   tierpack plugin check ./tierpack-plugin-rules --good testdata/good --bad testdata/bad
   tierpack plugin check --output json ./tierpack-plugin-rules --good testdata/good`,
		Flags: []cli.Flag{
			outputFlag(),
			&cli.StringFlag{Name: "good", Usage: "a contribution `DIR` the plugin must accept"},
			&cli.StringFlag{Name: "bad", Usage: "a contribution `DIR` the plugin must reject"},
			&cli.StringSliceFlag{Name: "skip", Usage: "skip the check `NAME` (repeatable)"},
		},
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return pluginUsagef(c, "needs exactly one plugin binary")
			}
			for _, s := range c.StringSlice("skip") {
				if !slices.Contains(plugintest.Checks, s) {
					return pluginUsagef(c, "--skip %q: no such check; the checks are %s", s, strings.Join(plugintest.Checks, ", "))
				}
			}
			cfg := plugintest.Config{
				Binary:   c.Args().First(),
				Good:     c.String("good"),
				Bad:      c.String("bad"),
				Skip:     c.StringSlice("skip"),
				LogLevel: c.String("log-level"),
			}
			if c.IsSet("plugin-timeout") {
				cfg.CallTimeout = c.Duration("plugin-timeout")
			}
			r := plugintest.Check(c.Context, cfg)
			if err := c.Context.Err(); err != nil {
				return err
			}
			failed := r.Failed()
			if asJSON {
				if err := printJSON(c.App.Writer, r); err != nil {
					return err
				}
			} else {
				w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "CHECK\tRESULT\tTIME\tDETAIL")
				for _, res := range r.Checks {
					d := "-"
					if res.Duration > 0 {
						d = res.Duration.Round(time.Millisecond).String()
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", res.Name, strings.ToUpper(string(res.Status)), d, res.Message)
				}
				if err := w.Flush(); err != nil {
					return err
				}
			}
			if len(failed) > 0 {
				names := make([]string, len(failed))
				for i, f := range failed {
					names[i] = f.Name
				}
				return checkFailed{fmt.Sprintf("plugin check: %s failed %d of %d checks: %s", r.Binary, len(failed), len(r.Checks), strings.Join(names, ", "))}
			}
			passed := 0
			for _, res := range r.Checks {
				if res.Status == plugintest.Pass {
					passed++
				}
			}
			note(c, "plugin check: %s passed %d of %d checks (%d skipped)\n", r.Binary, passed, len(r.Checks), len(r.Checks)-passed)
			return nil
		},
	}
}

func pluginPushCommand() *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "publish a plugin's per-platform binaries as one OCI artifact",
		ArgsUsage: "DIR REF",
		Description: `DIR holds the plugin built for each platform, named
tierpack-plugin-<type>-<os>-<arch>[-<variant>][.exe]:

   GOOS=linux  GOARCH=amd64 go build -o dist/tierpack-plugin-rules-linux-amd64
   GOOS=linux  GOARCH=arm64 go build -o dist/tierpack-plugin-rules-linux-arm64
   GOOS=darwin GOARCH=arm64 go build -o dist/tierpack-plugin-rules-darwin-arm64

Other files in DIR are ignored. The binary for this machine is run once (handshake and
Describe) for the plugin's type, version and protocol; without one, pass
--plugin-version. REF gets an OCI image index (artifactType ` + dist.ArtifactType + `),
one manifest per platform, each with the binary as a tar+gzip layer and annotations for
the type, version, protocol versions and the binary's sha256. Without a tag, REF is
tagged with the plugin's version. Install it with tierpack plugin install REF.

EXAMPLES:
   tierpack plugin push ./dist ghcr.io/example/tierpack-plugins/rules
   tierpack plugin push --output json ./dist localhost:5000/plugins/rules:0.1.0`,
		Flags: append([]cli.Flag{
			outputFlag(),
			&cli.StringFlag{Name: "plugin-version", Usage: "the plugin's `VERSION`, when DIR has no binary for this machine to ask"},
		}, registryFlags()...),
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			if c.NArg() != 2 {
				return pluginUsagef(c, "needs a folder of plugin binaries and a reference")
			}
			dir := c.Args().Get(0)
			ref, err := target.Parse(c.Args().Get(1))
			if err != nil {
				return usageError{err}
			}
			if ref.Digest != "" {
				return pluginUsagef(c, "%s: push to a tag, not a digest (the digest is computed from the content)", ref)
			}
			bins, err := dist.ScanDir(dir)
			if err != nil {
				return err
			}
			var meta dist.Meta
			if native, ok := dist.Native(bins); ok {
				if meta, err = dist.Probe(c.Context, native.Path, dist.ProbeOptions{LogLevel: c.String("log-level")}); err != nil {
					return err
				}
				if v := c.String("plugin-version"); v != "" && v != meta.Version {
					return pluginUsagef(c, "--plugin-version %s, but %s says it is version %s", v, native.Path, meta.Version)
				}
			} else {
				if c.String("plugin-version") == "" {
					return pluginUsagef(c, "%s has no binary for this machine (%s) to ask for the plugin's version: pass --plugin-version", dir, artifact.CurrentPlatform().OS+"/"+artifact.CurrentPlatform().Architecture)
				}
				meta = dist.Meta{Type: bins[0].Type, Version: c.String("plugin-version"), Protocols: []int{sdk.ProtocolVersion}}
			}
			if ref.Tag == "" {
				ref = ref.WithTag(contrib.TagFor(meta.Version))
			}
			created, err := sourceDateEpoch()
			if err != nil {
				return usageError{err}
			}
			staging, err := os.MkdirTemp("", "tierpack-plugin-push-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(staging)
			packed, err := dist.Pack(bins, meta, created, staging)
			if err != nil {
				return err
			}
			t, err := target.Open(c.Context, ref, targetOptions(c, false))
			if err != nil {
				return err
			}
			defer t.Close()
			progress, stop := newProgress(c, asJSON)
			res, err := artifact.PushBlobs(c.Context, t.Store, packed.Blobs, ref.Tag, artifact.PushOptions{Progress: progress})
			stop()
			if err != nil {
				return fmt.Errorf("pushing to %s: %w", ref, err)
			}
			if asJSON {
				return printJSON(c.App.Writer, map[string]any{
					"reference": ref.String(), "digest": res.Digest, "mediaType": res.MediaType,
					"artifactType": dist.ArtifactType, "type": meta.Type, "version": meta.Version,
					"protocols": meta.Protocols, "platforms": packed.Platforms,
					"uploaded": res.Uploaded, "skipped": res.Skipped, "bytesUploaded": res.BytesUploaded,
				})
			}
			note(c, "pushed plugin %s %s for %s to %s: %d blob(s) uploaded, %d already present\n",
				meta.Type, meta.Version, strings.Join(packed.Platforms, ", "), ref, res.Uploaded, res.Skipped)
			fmt.Fprintln(c.App.Writer, ref.WithTag("").String()+"@"+res.Digest)
			return nil
		},
	}
}

func pluginInstallCommand() *cli.Command {
	return &cli.Command{
		Name:      "install",
		Usage:     "install a plugin published with tierpack plugin push, and pin it",
		ArgsUsage: "REF",
		Description: `Resolves REF to a plugin's image index, takes this machine's platform, fetches it
verifying every digest, runs it once (handshake and Describe must agree with the
artifact), then puts it in $TIERPACK_HOME/plugins as tierpack-plugin-<type> and pins
its sha256 in $TIERPACK_HOME/plugins/lock.json with the source, digest, version and
protocol. tierpack refuses to run it if the binary changes afterwards. Installing a
type again replaces it (an upgrade); built-in types cannot be replaced.

` + helpReferences + `

EXAMPLES:
   tierpack plugin install ghcr.io/example/tierpack-plugins/rules:0.1.0
   tierpack plugin install localhost:5000/plugins/rules@sha256:…`,
		Flags: append([]cli.Flag{
			outputFlag(),
			&cli.BoolFlag{Name: "force", Usage: "replace a tierpack-plugin-<type> in the plugin folder that tierpack did not install"},
		}, registryFlags()...),
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return pluginUsagef(c, "needs exactly one reference")
			}
			dir := managedPluginDir()
			if dir == "" {
				return errors.New("no data folder to install plugins into: set TIERPACK_HOME")
			}
			t, err := openRef(c, c.Args().First(), true)
			if err != nil {
				return err
			}
			defer t.Close()
			res, err := dist.Install(c.Context, t, dist.InstallOptions{
				Dir: dir, Builtins: builtinTypes(), Force: c.Bool("force"),
				Probe: dist.ProbeOptions{LogLevel: c.String("log-level")},
			})
			if err != nil {
				return err
			}
			// A binary of the same type in $TIERPACK_PLUGINS_DIR wins.
			var shadowedBy string
			if m, err := pluginManager(c); err == nil {
				if srcs, err := m.Sources(); err == nil {
					for _, s := range srcs {
						if s.Type == res.Pin.Type && s.Path != res.Path {
							shadowedBy = s.Path
						}
					}
				}
				m.Close()
			}
			if asJSON {
				return printJSON(c.App.Writer, map[string]any{"installed": res, "shadowedBy": shadowedBy})
			}
			if res.Replaced != nil {
				note(c, "replaced plugin %s %s (from %s)\n", res.Replaced.Type, res.Replaced.Version, res.Replaced.Source)
			}
			fmt.Fprintf(c.App.Writer, "installed plugin %s %s (%s, protocol %s) from %s@%s\n  %s\n  pinned sha256:%s in %s\n",
				res.Pin.Type, res.Pin.Version, res.Pin.Platform, joinInts(res.Pin.Protocols), res.Pin.Source, res.Pin.Digest,
				res.Path, res.Pin.SHA256, filepath.Join(dir, plugin.LockFileName))
			if shadowedBy != "" {
				note(c, "note: %s (from $%s) is used instead until you remove it\n", shadowedBy, plugin.DirEnv)
			}
			return nil
		},
	}
}

func pluginRemoveCommand() *cli.Command {
	return &cli.Command{
		Name:      "remove",
		Usage:     "uninstall a plugin installed with tierpack plugin install",
		ArgsUsage: "TYPE",
		Description: `Removes $TIERPACK_HOME/plugins/tierpack-plugin-TYPE and its pin. Plugins in
$TIERPACK_PLUGINS_DIR are yours: delete those files yourself.

EXAMPLES:
   tierpack plugin remove rules`,
		Flags: []cli.Flag{outputFlag()},
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return pluginUsagef(c, "needs exactly one plugin type")
			}
			typ := c.Args().First()
			if slices.Contains(builtinTypes(), typ) {
				return pluginUsagef(c, "%q is built into tierpack and cannot be removed", typ)
			}
			dir := managedPluginDir()
			if dir == "" {
				return errors.New("no data folder: set TIERPACK_HOME")
			}
			pin, err := dist.Remove(dir, typ)
			if errors.Is(err, plugin.ErrNotFound) {
				if m, merr := pluginManager(c); merr == nil {
					defer m.Close()
					if srcs, serr := m.Sources(); serr == nil {
						for _, s := range srcs {
							if s.Type == typ {
								return fmt.Errorf("%w %q: it was not installed by tierpack; it is %s (from $%s): delete that file yourself", plugin.ErrNotFound, typ, s.Path, plugin.DirEnv)
							}
						}
					}
				}
			}
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(c.App.Writer, map[string]any{"removed": typ, "pin": pin})
			}
			if pin != nil {
				fmt.Fprintf(c.App.Writer, "removed plugin %s %s (installed from %s)\n", typ, pin.Version, pin.Source)
			} else {
				fmt.Fprintf(c.App.Writer, "removed plugin %s (it had no pin)\n", typ)
			}
			return nil
		},
	}
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ",")
}

// pluginUsagef reports a usage problem with a plugin subcommand, naming it
// in full (usagef names a subcommand without its parent).
func pluginUsagef(c *cli.Context, format string, args ...any) error {
	name := "plugin " + c.Command.Name
	return usageError{fmt.Errorf("%s: %s (see `tierpack %s --help`)", name, fmt.Sprintf(format, args...), name)}
}
