package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/cmd/tierpack/internal/option"
	"github.com/tierpack/tierpack/cmd/tierpack/internal/run"
	"github.com/tierpack/tierpack/internal/gcstart"
	"github.com/tierpack/tierpack/pkg/tierpack"
)

// The consumer side: install, installed, update, audit, uninstall.

var stateFlag = &cli.StringFlag{Name: "state", Usage: "the installed-state `FILE` (default $TIERPACK_HOME/installed.json; one per deployment)", EnvVars: []string{"TIERPACK_STATE"}}

var trustKeyFlag = &cli.StringSliceFlag{Name: "key", Usage: "trusted public `KEY` (repeatable; see tierpack verify --help)"}

var runtimeFlag = &cli.StringSliceFlag{Name: "runtime", EnvVars: []string{"TIERPACK_RUNTIMES"},
	Usage: "a runtime this machine runs, `NAME=VERSION` (repeatable, or comma-separated in $TIERPACK_RUNTIMES): versions whose requires.runtimes it does not meet are passed over (falcoctl's engine_version_semver is falco-engine)"}

var onDemotionFlag = &cli.StringFlag{Name: "on-demotion", Value: tierpack.OnDemotionRollback, Usage: "`WHAT` to do when an installed version was demoted: rollback, remove, fail"}

// consumerFlags are the flags every installation command takes, then extra.
func consumerFlags(extra ...cli.Flag) []cli.Flag {
	return append(append([]cli.Flag{option.Output(), stateFlag, trustKeyFlag}, extra...), option.Registry()...)
}

func installCommand() *cli.Command {
	return &cli.Command{
		Name: "install", Usage: "install the newest version verified at --tier, and remember it for update and audit",
		ArgsUsage: "NAME|REF",
		Description: `NAME is looked up in the configured indexes (tierpack index add; falcoctl's too), then in
the local store; a reference with a registry, an oci: layout, a tag or a digest is used as
given. Without a tag, install takes the newest semver tag within --version whose tier the
trust gate verifies at --tier or higher (an index's word is not enough), unpacks it
atomically into -o DIR, and records it in the state file: name, source, version, digest,
verified and required tier, range, folder, time. Without -o, the folder is the one
$TIERPACK_HOME/install.yaml gives its type (dirs:), else the one its plugin names (the
falco-rules type: /etc/falco/rules.d/NAME), else $TIERPACK_HOME/installed/NAME. The tier
is required, from --tier or install.yaml's tier: nothing is installed at contrib unless
asked. Installing what is installed already does nothing.

What it requires (tierpack.yaml's requires.artifacts) is installed with it, each the
newest version within its range verified at --tier or higher too: an official artifact
never brings a contrib one along, and a refusal names the weakest link. Versions whose
requires.runtimes this machine does not meet (--runtime falco=0.39.1) are passed over,
and install says which and why.

EXAMPLES:
   tierpack install falco-rules --tier official --version '^3' -o /etc/falco/rules.d
   tierpack install localhost:5000/scripts/falco-debug-bundle --tier repository`,
		Flags: consumerFlags(
			&cli.StringFlag{Name: "tier", EnvVars: []string{"TIERPACK_INSTALL_TIER"}, Usage: "the `TIER` required of it (and of everything it requires), now and on every update: contrib, repository, official"},
			runtimeFlag,
			&cli.StringFlag{Name: "version", Usage: "semver `RANGE` of versions to consider (^1.2, ~0.3, >=1.0 <2.0)"},
			&cli.StringFlag{Name: "dir", Aliases: []string{"o"}, Usage: "install into `DIR` (default: install.yaml's folder for the type, its plugin's, or $TIERPACK_HOME/installed/NAME)"},
		),
		Action: action(1, 1, "needs exactly one NAME or reference", func(c *cli.Context, cl *tierpack.Client) error {
			t, err := tierFlag(c, "tier")
			if err != nil {
				return err
			}
			return run.Install(envOf(c, cl), tierpack.InstallRequest{Name: c.Args().First(), Range: c.String("version"), Tier: t,
				OutputDir: c.String("dir"), State: c.String("state"), KeyFiles: c.StringSlice("key"), Runtimes: c.StringSlice("runtime")})
		}),
	}
}

func installedCommand() *cli.Command {
	return &cli.Command{
		Name: "installed", Usage: "list what is installed, with its tier now (verified again)",
		Flags: consumerFlags(),
		Action: action(0, 0, "takes no arguments", func(c *cli.Context, cl *tierpack.Client) error {
			return run.Installed(envOf(c, cl), c.String("state"), c.StringSlice("key"))
		}),
	}
}

func uninstallCommand() *cli.Command {
	return &cli.Command{
		Name: "uninstall", Usage: "remove an installation's folder and its record", ArgsUsage: "NAME",
		Flags: []cli.Flag{option.Output(), stateFlag},
		Action: action(1, 1, "needs the NAME of an installation", func(c *cli.Context, cl *tierpack.Client) error {
			return run.Uninstall(envOf(c, cl), c.Args().First(), c.String("state"))
		}),
	}
}

func updateCommand() *cli.Command {
	return &cli.Command{
		Name: "update", Usage: "move installations to the newest version still verified at their tier; roll back demoted ones",
		ArgsUsage: "[NAME...]",
		Description: `For each installation (or those named), the newest version within its range whose tier
the trust gate verifies at its required tier or higher; never a lower tier. If the
installed digest was demoted below its required tier, update rolls back to the newest
version still at the tier (--on-demotion rollback, the default), removes it (remove) or
fails (fail), saying who demoted it and why. The new version is unpacked beside the old
and switched in atomically; the state file changes last.`,
		Flags: consumerFlags(&cli.BoolFlag{Name: "dry-run", Usage: "say what would change, change nothing"}, onDemotionFlag, runtimeFlag),
		Action: action(0, -1, "", func(c *cli.Context, cl *tierpack.Client) error {
			return run.Update(envOf(c, cl), tierpack.UpdateRequest{Names: c.Args().Slice(), DryRun: c.Bool("dry-run"), OnDemotion: c.String("on-demotion"),
				State: c.String("state"), KeyFiles: c.StringSlice("key"), Runtimes: c.StringSlice("runtime")})
		}),
	}
}

func auditCommand() *cli.Command {
	return &cli.Command{
		Name: "audit", Usage: "re-verify every installation and installed plugin now; exit 4 if any no longer meets its tier",
		Description: `Signatures, current tier, demotions and revocations, checked again against the
registries: exits 0 when every installation still meets its required tier and every
installed plugin is still signed by a trusted key, 4 otherwise, listing each offender
with the record that demoted it. For CI and cron.`,
		Flags: consumerFlags(),
		Action: action(0, 0, "takes no arguments", func(c *cli.Context, cl *tierpack.Client) error {
			return run.Audit(envOf(c, cl), c.String("state"), c.StringSlice("key"))
		}),
	}
}

func followCommand() *cli.Command {
	return &cli.Command{
		Name: "follow", Usage: "run update in a loop, for a sidecar beside Falco",
		Description: `Every --every (± --jitter, so a fleet does not check in step), runs tierpack update on
what is installed and, after a check that changed something, runs --exec (with sh -c;
e.g. to make Falco reload its rules). A failed check is logged and retried at the next.
SIGTERM or SIGINT ends it cleanly (exit 0). With --output json each check is one JSON
line. --once checks once and exits with the check's result.

EXAMPLES:
   tierpack follow --every 6h --jitter 10% --exec 'kill -1 $(pidof falco)'
   tierpack follow --once --output json`,
		Flags: consumerFlags(
			&cli.DurationFlag{Name: "every", Value: 6 * time.Hour, Usage: "check every `DURATION`"},
			&cli.StringFlag{Name: "jitter", Value: "10%", Usage: "vary each wait by up to `PERCENT` of --every, up or down"},
			&cli.StringFlag{Name: "exec", Usage: "run `CMD` (sh -c) after a check that changed something"},
			&cli.BoolFlag{Name: "once", Usage: "check once and exit"}, onDemotionFlag, runtimeFlag),
		Action: action(0, 0, "takes no arguments", func(c *cli.Context, cl *tierpack.Client) error {
			gcstart.Default() // long-running: Go's usual GC target, for a sidecar's memory limit
			pct, err := strconv.ParseFloat(strings.TrimSuffix(c.String("jitter"), "%"), 64)
			if err != nil || pct < 0 || pct >= 100 {
				return usagef(c, "--jitter %q: a percentage below 100, e.g. 10%%", c.String("jitter"))
			}
			return run.Follow(envOf(c, cl), tierpack.FollowRequest{
				Update: tierpack.UpdateRequest{OnDemotion: c.String("on-demotion"), State: c.String("state"), KeyFiles: c.StringSlice("key"), Runtimes: c.StringSlice("runtime")},
				Every:  c.Duration("every"), Jitter: pct / 100, Once: c.Bool("once"),
			}, c.String("exec"))
		}),
	}
}

func mirrorCommand() *cli.Command {
	return &cli.Command{
		Name: "mirror", Usage: "copy what an index names at --tier or higher, with its trust chain, for machines without the network",
		ArgsUsage: "--index NAME --tier TIER DEST",
		Description: `Copies every version the index NAME names whose tier the trust gate verifies at --tier or
higher, with its tier records and signatures, and the index itself (byte for byte, so a
signature on it stays valid) to DEST:

   oci:DIR      a mirror bundle: carry it to the machine without the network, then
                  tierpack index add NAME oci:DIR
                  tierpack install NAME --tier TIER
                installs from it and verifies fully; the bundle stands in for the
                registries its index names (or point registries.yaml at it:
                mirror: oci:/ABSOLUTE/DIR).
   HOST[:PORT]  a registry; every repository keeps its path, so registries.yaml's
                mirror: HOST serves it.

Re-running copies only what is missing, and brings the records of what is there up to
date: a demotion made since reaches the mirror. Plugins of third-party types are not
copied: install them with tierpack plugin install.

EXAMPLES:
   tierpack mirror --index falco --tier official oci:/media/usb/falco-official
   tierpack mirror --index falco --tier repository registry.internal:5000`,
		Flags: append([]cli.Flag{option.Output(), trustKeyFlag,
			&cli.StringFlag{Name: "index", Required: true, Usage: "the configured index `NAME` whose contributions to copy (tierpack index list)"},
			&cli.StringFlag{Name: "tier", Required: true, Usage: "copy versions verified at `TIER` or higher: contrib, repository, official"},
		}, option.Registry()...),
		Action: action(1, 1, "needs the DEST: oci:DIR or a registry HOST[:PORT]", func(c *cli.Context, cl *tierpack.Client) error {
			t, err := tierFlag(c, "tier")
			if err != nil {
				return err
			}
			return run.Mirror(envOf(c, cl), tierpack.MirrorRequest{Index: c.String("index"), Tier: t, Dest: c.Args().First(), KeyFiles: c.StringSlice("key")})
		}),
	}
}
