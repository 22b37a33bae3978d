package main

import (
	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/cmd/tierpack/internal/option"
	"github.com/tierpack/tierpack/cmd/tierpack/internal/run"
	"github.com/tierpack/tierpack/pkg/tierpack"
)

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:         "inspect",
		BashComplete: completeRefs,
		Usage:        "show an artifact's tier, type, annotations and layers",
		ArgsUsage:    "REF",
		Description: `Resolves REF and prints what tierpack knows about it without downloading layers.

` + helpReferences + `

EXAMPLES:
   tierpack inspect falco-quickstart:0.1.0
   tierpack inspect --output json localhost:5000/contrib/falco-quickstart:0.1.0 | jq -r .tier`,
		Flags: append([]cli.Flag{option.Output(), &cli.StringSliceFlag{Name: "key", Usage: "trusted public `KEY` to check signatures with (repeatable)"}}, option.Registry()...),
		Action: action(1, 1, "needs exactly one reference", func(c *cli.Context, cl *tierpack.Client) error {
			return run.Inspect(envOf(c, cl), tierpack.InspectRequest{Ref: c.Args().First(), KeyFiles: c.StringSlice("key")})
		}),
	}
}
