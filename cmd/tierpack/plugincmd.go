package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/cmd/tierpack/internal/option"
	"github.com/tierpack/tierpack/cmd/tierpack/internal/run"
	"github.com/tierpack/tierpack/pkg/plugin/dist"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk/plugintest"
)

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
			pluginInstallCommand(), pluginVerifyCommand(),
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
		Flags: []cli.Flag{option.Output()},
		Action: action(0, -1, "", func(c *cli.Context, cl *tierpack.Client) error {
			return run.PluginList(envOf(c, cl))
		}),
	}
}

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
			option.Output(),
			&cli.StringFlag{Name: "good", Usage: "a contribution `DIR` the plugin must accept"},
			&cli.StringFlag{Name: "bad", Usage: "a contribution `DIR` the plugin must reject"},
			&cli.StringSliceFlag{Name: "skip", Usage: "skip the check `NAME` (repeatable)"},
		},
		Action: action(1, 1, "needs exactly one plugin binary", func(c *cli.Context, cl *tierpack.Client) error {
			req := tierpack.PluginCheckRequest{Binary: c.Args().First(), Good: c.String("good"), Bad: c.String("bad"), Skip: c.StringSlice("skip")}
			if c.IsSet("plugin-timeout") {
				req.Timeout = c.Duration("plugin-timeout")
			}
			return run.PluginCheck(envOf(c, cl), req)
		}),
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
			option.Output(),
			&cli.StringFlag{Name: "plugin-version", Usage: "the plugin's `VERSION`, when DIR has no binary for this machine to ask"},
			&cli.StringFlag{Name: "key", Usage: "sign the plugin with private key `FILE` (its users trust the public key for plugins)", EnvVars: []string{"TIERPACK_SIGNING_KEY"}},
		}, option.Registry()...),
		Action: action(2, 2, "needs a folder of plugin binaries and a reference", func(c *cli.Context, cl *tierpack.Client) error {
			req := tierpack.PluginPushRequest{Dir: c.Args().Get(0), Ref: c.Args().Get(1), Version: c.String("plugin-version"), Key: key(c)}
			e, done := transferEnv(c, cl)
			defer done()
			return run.PluginPush(e, req)
		}),
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
			option.Output(),
			&cli.BoolFlag{Name: "force", Usage: "replace a tierpack-plugin-<type> in the plugin folder that tierpack did not install"},
			&cli.StringSliceFlag{Name: "key", Usage: "trust public key `FILE` to sign this plugin (beyond the policy's keys.plugins)"},
			&cli.BoolFlag{Name: "allow-unsigned", Usage: "install a plugin no trusted key signed (pinned by sha256 only, with a warning)"},
		}, option.Registry()...),
		Action: action(1, 1, "needs exactly one reference", func(c *cli.Context, cl *tierpack.Client) error {
			return run.PluginInstall(envOf(c, cl), tierpack.PluginInstallRequest{Ref: c.Args().First(), Force: c.Bool("force"),
				KeyFiles: c.StringSlice("key"), AllowUnsigned: c.Bool("allow-unsigned")})
		}),
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
		Flags: []cli.Flag{option.Output()},
		Action: action(1, 1, "needs exactly one plugin type", func(c *cli.Context, cl *tierpack.Client) error {
			return run.PluginRemove(envOf(c, cl), c.Args().First())
		}),
	}
}

func pluginVerifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "re-check every installed plugin: its signature, revocation, and that the pinned binary is the signed one",
		Description: `For each plugin in $TIERPACK_HOME/plugins/lock.json, reads the index it was installed
from (by digest), checks that a key trusted for plugins signs it today (keys.plugins in
the policy, or --key; a key revoked since counts for nothing), that the signed index
still leads to the pinned build, and that the installed binary is that build. Exits 4
when a signature is missing or untrusted, 7 when a binary is not the signed one.`,
		Flags: append([]cli.Flag{option.Output(),
			&cli.StringSliceFlag{Name: "key", Usage: "trust public key `FILE` to sign plugins (beyond the policy's keys.plugins)"},
		}, option.Registry()...),
		Action: action(0, 0, "takes no arguments", func(c *cli.Context, cl *tierpack.Client) error {
			return run.PluginVerify(envOf(c, cl), c.StringSlice("key"))
		}),
	}
}
