package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/cmd/tierpack/internal/option"
	"github.com/tierpack/tierpack/cmd/tierpack/internal/run"
	"github.com/tierpack/tierpack/internal/completion"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk"
)

func tagsCommand() *cli.Command {
	return &cli.Command{
		Name:      "tags",
		Usage:     "list a repository's tags, with --long what each holds and its verified tier",
		ArgsUsage: "REPO",
		Description: `Lists the tags of REPO (a registry repository, an oci: layout, or a local-store
name), leaving out cosign's signature tags and the referrers tag schema's. With --long,
each tag is resolved and its tier checked as tierpack pull --tier would.

EXAMPLES:
   tierpack tags localhost:5000/scripts/falco-debug-bundle
   tierpack tags --long --key core.pub localhost:5000/scripts/falco-debug-bundle`,
		Flags: append([]cli.Flag{option.Output(),
			&cli.BoolFlag{Name: "long", Aliases: []string{"l"}, Usage: "resolve each tag: digest, type and tier"},
			&cli.StringSliceFlag{Name: "key", Usage: "trusted public `KEY` for --long (repeatable)"},
		}, option.Registry()...),
		BashComplete: completeRefs,
		Action: action(1, 1, "needs exactly one repository", func(c *cli.Context, cl *tierpack.Client) error {
			return run.Tags(envOf(c, cl), tierpack.TagsRequest{Repo: c.Args().First(), Long: c.Bool("long"), KeyFiles: c.StringSlice("key")})
		}),
	}
}

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: bash, zsh or fish",
		ArgsUsage: "SHELL",
		Description: `Completes commands, flags, contribution types and local-store names.

EXAMPLES:
   source <(tierpack completion bash)                    # this shell
   tierpack completion bash > /etc/bash_completion.d/tierpack
   tierpack completion zsh > "${fpath[1]}/_tierpack"
   tierpack completion fish > ~/.config/fish/completions/tierpack.fish`,
		BashComplete: func(c *cli.Context) { fmt.Fprintln(c.App.Writer, strings.Join(completion.Shells, "\n")) },
		Action: action(1, 1, "needs a shell: "+strings.Join(completion.Shells, ", "), func(c *cli.Context, _ *tierpack.Client) error {
			script, err := completion.Script(c.Args().First())
			if c.Args().First() == "fish" {
				script, err = c.App.ToFishCompletion()
			}
			if err != nil {
				return usagef(c, "%v", err)
			}
			_, err = fmt.Fprint(c.App.Writer, script)
			return err
		}),
	}
}

// completeRefs completes a reference argument with the local store's
// names, and flag values (completeValues).
func completeRefs(c *cli.Context) {
	completion.Complete(c, completeValues(c), func() []string {
		if cl, err := client(c); err == nil {
			return cl.LocalNames(c.Context)
		}
		return nil
	})
}

// completeArgs completes any other command: flag values, subcommands.
func completeArgs(c *cli.Context) { completion.Complete(c, completeValues(c), nil) }

// completeValues lists the values of flags that have few: tiers, types
// (built-in, companion and installed plugins), output formats.
func completeValues(c *cli.Context) func(string) []string {
	return func(flag string) []string {
		switch flag {
		case "tier", "to":
			return sdk.Tiers()
		case "type":
			if cl, err := client(c); err == nil {
				return cl.PluginTypes()
			}
		case "output":
			return []string{"text", "json"}
		case "reason-kind":
			return promotion.ReasonKinds
		}
		return nil
	}
}
