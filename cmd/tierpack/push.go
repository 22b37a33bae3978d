package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/cmd/tierpack/internal/option"
	"github.com/tierpack/tierpack/cmd/tierpack/internal/run"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/tier"
)

func initCommand() *cli.Command {
	return &cli.Command{
		Name:         "init",
		BashComplete: completeArgs,
		Usage:        "create a new contribution folder that validates, with its type's starter files",
		ArgsUsage:    "DIR",
		Description: `Creates DIR (if needed) with a tierpack.yaml and the starter files the type's plugin
scaffolds, which pass validation as they are (or after the build commands init
prints). It never overwrites a file, and refuses a folder that has a tierpack.yaml.

   script     install.sh and README.md
   chart      the chart helm create makes; a folder holding a Chart.yaml is adopted
              instead: tierpack.yaml takes the chart's name and version
   exporter   --binary PATH (repeatable): spec.binaries from each binary's ELF, Mach-O
              or PE header (binaries outside DIR are copied into bin/OS-ARCH/NAME);
              without --binary: a Go exporter in src/ and the commands that build it
   other      a plugin's own starter files, or only tierpack.yaml if it has none

The repository tier needs OWNERS and source.url: give them with --owner and
--source-url, or init writes placeholders that validation refuses until replaced.

EXAMPLES:
   tierpack init --type script ./falco-quickstart
   tierpack init --type chart ./my-chart          # or a folder with a Chart.yaml
   tierpack init --type exporter --binary dist/exporter-linux-amd64 --binary dist/exporter-linux-arm64 ./my-exporter
   tierpack init --type script --tier repository --owner jane --source-url https://github.com/org/tools --name falco-tools ./tools`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "type", Usage: "contribution `TYPE`: script, chart, exporter, or a type from `tierpack plugin list`", Required: true},
			&cli.StringFlag{Name: "name", Usage: "contribution `NAME` (default: the folder's name; an adopted chart's)"},
			&cli.StringFlag{Name: "version", Usage: "contribution `VERSION` (default: 0.1.0; an adopted chart's)"},
			&cli.StringFlag{Name: "tier", Value: "contrib", Usage: "`TIER` to publish at: contrib, repository, official"},
			&cli.StringSliceFlag{Name: "binary", Usage: "exporter: a prebuilt exporter `PATH`, one per platform (repeatable)"},
			&cli.IntFlag{Name: "port", DefaultText: "9100", Usage: "exporter: the TCP `PORT` it listens on"},
			&cli.StringSliceFlag{Name: "owner", Usage: "repository tier: an OWNERS approver's `HANDLE` (repeatable)"},
			&cli.StringFlag{Name: "source-url", Usage: "repository tier: the contribution's source repository `URL`"},
			&cli.StringFlag{Name: "source-revision", Usage: "repository tier: the `REVISION` it is built from (default: main)"},
			option.Output(),
		},
		Action: action(1, 1, "needs exactly one folder argument", func(c *cli.Context, cl *tierpack.Client) error {
			t, err := tier.Parse(c.String("tier"))
			if err != nil {
				return usageError{err}
			}
			req := tierpack.InitRequest{
				Dir: c.Args().First(), Type: c.String("type"), Name: c.String("name"), Version: c.String("version"), Tier: t,
				Owners: c.StringSlice("owner"), SourceURL: c.String("source-url"), SourceRevision: c.String("source-revision"),
			}
			for _, b := range c.StringSlice("binary") {
				req.Options = append(req.Options, sdk.InitOption{Key: "binary", Value: b})
			}
			if c.IsSet("port") {
				req.Options = append(req.Options, sdk.InitOption{Key: "port", Value: fmt.Sprint(c.Int("port"))})
			}
			return run.Init(envOf(c, cl), req)
		}),
	}
}

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check a contribution with its type's plugin",
		ArgsUsage: "DIR",
		Description: `Reads DIR/tierpack.yaml, then asks the plugin for its type to check the files.
Prints every finding as FILE:LINE: SEVERITY: MESSAGE (HINT). Exits 3 when there are
errors (or warnings, with --strict).

EXAMPLES:
   tierpack validate ./falco-quickstart
   tierpack validate --output json ./falco-quickstart | jq '.diagnostics[]'`,
		Flags: []cli.Flag{
			option.Output(),
			&cli.BoolFlag{Name: "strict", Usage: "treat warnings as errors (what the official tier requires)"},
		},
		Action: action(1, 1, "needs exactly one folder argument", func(c *cli.Context, cl *tierpack.Client) error {
			return run.Validate(envOf(c, cl), tierpack.ValidateRequest{Dir: c.Args().First(), Strict: c.Bool("strict")})
		}),
	}
}

func packageCommand() *cli.Command {
	return &cli.Command{
		Name:      "package",
		Usage:     "validate and package a contribution into the local store",
		ArgsUsage: "DIR",
		Description: `Validates DIR with its type's plugin and stores the artifact in the local store
as NAME:VERSION (from tierpack.yaml), with no server involved. Push it later, or pull
it back with tierpack pull NAME:VERSION.

EXAMPLES:
   tierpack package ./falco-quickstart
   tierpack inspect falco-quickstart:0.1.0`,
		Flags: append([]cli.Flag{option.Output()}, packFlags()...),
		Action: action(1, 1, "needs exactly one folder argument", func(c *cli.Context, cl *tierpack.Client) error {
			return publish(c, cl, c.Args().First(), "")
		}),
	}
}

func pushCommand() *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "validate, package and push a contribution to a registry, OCI layout or the local store",
		ArgsUsage: "DIR REF",
		Description: `Validates DIR with its type's plugin, builds the OCI artifact annotated with its
tier and type, and pushes it to REF. Without a tag, REF gets the version from
tierpack.yaml ('+' becomes '_'). Only blobs the target lacks are uploaded, and the tag
is written last, so a failed push never leaves a tag pointing at missing content.
Unchanged content gives the same digest every time.

A published version keeps its digest: pushing a version whose tag in a registry or OCI
layout names other content (changed files, metadata or tier — or a promoted manifest)
is refused, since its tier records, signatures and installations are about the digest
it has. Publish a new version, or give --replace to move the tag on purpose. Pushing it
again unchanged uploads nothing, signs nothing again and moves no tag. The local store
is a working area: a version there is replaced freely.

Scripts are packaged as tar+zstd layers (they pull several times faster than gzip);
charts, exporter images and falcoctl's artifacts keep tar+gzip, which helm, container
runtimes and falcoctl read. A version published with gzip by an older tierpack is
recognised and keeps its digest. --compression gzip writes gzip for clients that read
nothing else (tierpacks older than tar+zstd support among them).

` + helpReferences + `

EXAMPLES:
   tierpack push ./falco-quickstart falco-quickstart                 # local store
   tierpack push ./falco-quickstart localhost:5000/contrib/falco-quickstart
   tierpack push ./falco-quickstart oci:./layout:0.1.0
   tierpack push --output json ./falco-quickstart ghcr.io/org/falco-quickstart:0.1.0
   tierpack push --compression gzip ./falco-quickstart ghcr.io/org/falco-quickstart  # for older clients`,
		Flags: append(append([]cli.Flag{option.Output(),
			&cli.BoolFlag{Name: "replace", Usage: "move the version's tag even when it names other content (its records and signatures stay with the old digest)"}},
			packFlags()...), option.Registry()...),
		Action: action(2, 2, "needs a contribution folder and a reference", func(c *cli.Context, cl *tierpack.Client) error {
			return publish(c, cl, c.Args().Get(0), c.Args().Get(1))
		}),
	}
}

// packFlags sign and compress what push and package write.
func packFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "compression", Value: "auto", Usage: "how tar layers are compressed, `MODE`: auto (zstd where the type's plugin writes it — scripts — else gzip, which charts, images and falcoctl's artifacts need), gzip or zstd"},
		&cli.StringFlag{Name: "key", Usage: "cosign private `KEY` that signs the artifact and its tier record; the repository tier needs one", EnvVars: []string{"TIERPACK_SIGNING_KEY"}},
		&cli.StringFlag{Name: "by", Usage: "who signs, recorded in the tier record (default: $USER)"},
	}
}

// publish runs the Publish use case for push and package.
func publish(c *cli.Context, cl *tierpack.Client, dir, ref string) error {
	e, done := transferEnv(c, cl)
	defer done()
	return run.Publish(e, tierpack.PublishRequest{Dir: dir, Ref: ref, Key: key(c), By: c.String("by"), Replace: c.Bool("replace"), Compression: c.String("compression")})
}
