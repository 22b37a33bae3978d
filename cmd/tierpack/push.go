package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/tier"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk"
)

func initCommand() *cli.Command {
	return &cli.Command{
		Name:         "init",
		BashComplete: completeInit,
		Usage:        "create a new contribution folder with a tierpack.yaml",
		ArgsUsage:    "DIR",
		Description: `Creates DIR (if needed) with a tierpack.yaml for the given type and, for built-in
types, starter files that already pass validation. Edit them, then run
tierpack validate DIR.

EXAMPLES:
   tierpack init --type script ./falco-quickstart
   tierpack init --type script --tier repository --name falco-tools ./tools`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "type", Usage: "contribution `TYPE` (script, or a type from `tierpack plugin list`)", Required: true},
			&cli.StringFlag{Name: "name", Usage: "contribution `NAME` (default: the folder's name)"},
			&cli.StringFlag{Name: "tier", Value: "contrib", Usage: "`TIER` to publish at: contrib, repository, official"},
		},
		Action: action(1, 1, "needs exactly one folder argument", func(c *cli.Context, cl *tierpack.Client) error {
			t, err := tier.Parse(c.String("tier"))
			if err != nil {
				return usageError{err}
			}
			dir := c.Args().First()
			created, err := cl.Init(tierpack.InitRequest{Dir: dir, Type: c.String("type"), Name: c.String("name"), Tier: t})
			for _, p := range created {
				note(c, "created %s\n", p)
			}
			if err == nil {
				note(c, "next: edit them, then run `tierpack validate %s`\n", dir)
			}
			return err
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
			outputFlag(),
			&cli.BoolFlag{Name: "strict", Usage: "treat warnings as errors (what the official tier requires)"},
		},
		Action: action(1, 1, "needs exactly one folder argument", func(c *cli.Context, cl *tierpack.Client) error {
			res, err := cl.Validate(c.Context, tierpack.ValidateRequest{Dir: c.Args().First(), Strict: c.Bool("strict")})
			if err != nil {
				return err
			}
			err = show(c, res, func() error {
				printDiagnostics(c.App.Writer, res.Diagnostics)
				if res.Valid {
					note(c, "%s: valid %s contribution %q (%d warning(s))\n", res.Dir, res.Type, res.Name, res.Warnings)
				}
				return nil
			})
			if err == nil && !res.Valid {
				return cli.Exit(fmt.Sprintf("%s: %d error(s), %d warning(s)", res.Dir, res.Errors, res.Warnings), exitInvalid)
			}
			return err
		}),
	}
}

func printDiagnostics(w io.Writer, ds []sdk.Diagnostic) {
	for _, d := range ds {
		fmt.Fprintln(w, d.String())
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
		Flags: append([]cli.Flag{outputFlag()}, signFlags()...),
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

` + helpReferences + `

EXAMPLES:
   tierpack push ./falco-quickstart falco-quickstart                 # local store
   tierpack push ./falco-quickstart localhost:5000/contrib/falco-quickstart
   tierpack push ./falco-quickstart oci:./layout:0.1.0
   tierpack push --output json ./falco-quickstart ghcr.io/org/falco-quickstart:0.1.0`,
		Flags: append(append([]cli.Flag{outputFlag()}, signFlags()...), registryFlags()...),
		Action: action(2, 2, "needs a contribution folder and a reference", func(c *cli.Context, cl *tierpack.Client) error {
			return publish(c, cl, c.Args().Get(0), c.Args().Get(1))
		}),
	}
}

// signFlags sign what push and package write.
func signFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "key", Usage: "cosign private `KEY` that signs the artifact and its tier record; the repository tier needs one", EnvVars: []string{"TIERPACK_SIGNING_KEY"}},
		&cli.StringFlag{Name: "by", Usage: "who signs, recorded in the tier record (default: $USER)"},
	}
}

// publish runs the Publish use case for push and package.
func publish(c *cli.Context, cl *tierpack.Client, dir, ref string) error {
	progress, stop := newProgress(c)
	res, err := cl.Publish(c.Context, tierpack.PublishRequest{Dir: dir, Ref: ref, Key: key(c), By: by(c), Progress: progress})
	stop()
	var ve *artifact.ValidationError
	if errors.As(err, &ve) && !asJSON(c) {
		printDiagnostics(c.App.ErrWriter, ve.Diagnostics)
		return cli.Exit(fmt.Sprintf("%s: not pushed: %d error(s) (run `tierpack validate %s` for details)", dir, sdk.Count(ve.Diagnostics, sdk.SeverityError), dir), exitInvalid)
	}
	if err != nil {
		return err
	}
	return show(c, res, func() error {
		printDiagnostics(c.App.ErrWriter, res.Diagnostics)
		where := res.Reference
		if res.Local {
			where += " (local store)"
		}
		note(c, "pushed %s %s contribution %s: %d blob(s) uploaded, %d already present\n", res.Tier, res.Type, where, res.Uploaded, res.Skipped)
		_, err := fmt.Fprintln(c.App.Writer, res.Pinned)
		return err
	})
}
