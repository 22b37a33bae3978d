package main

import (
	"net"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/cmd/tierpack/internal/option"
	"github.com/tierpack/tierpack/cmd/tierpack/internal/run"
	"github.com/tierpack/tierpack/internal/gcstart"
	"github.com/tierpack/tierpack/pkg/catalog"
	"github.com/tierpack/tierpack/pkg/tierpack"
)

func catalogCommand() *cli.Command {
	flags := func(extra ...cli.Flag) []cli.Flag {
		return append(append(extra,
			&cli.StringSliceFlag{Name: "index", Usage: "show only the configured index `NAME` (repeatable)"},
			&cli.StringSliceFlag{Name: "file", Usage: "show the index `FILE` instead of the configured indexes (repeatable)"},
			&cli.StringSliceFlag{Name: "key", Usage: "trusted public `KEY` for the histories and for REPOs (repeatable)"},
			&cli.BoolFlag{Name: "no-history", Usage: "do not ask the registries for signatures and tier histories (offline)"},
		), option.Registry()...)
	}
	return &cli.Command{
		Name:  "catalog",
		Usage: "browse the indexes as a web catalog: serve it, or build it as static files",
		Subcommands: []*cli.Command{{
			Name:      "serve",
			Usage:     "serve a read-only web catalog of the configured indexes (and REPOs)",
			ArgsUsage: "[REPO...]",
			Description: `Serves the configured indexes (their cached copies: works offline) and the REPOs given,
indexed as tierpack index build does, as web pages: a list with search and tier filters,
each artifact with its versions, digests, OWNERS approvers, signatures, tier history and
the tierpack pull command; and a JSON API, /api/v1/artifacts[/NAME], with the fields
of tierpack search --output json. Each version's history is read from its registry at
start; an unreachable registry leaves what the index says.

It listens on loopback (127.0.0.1:8080) and refuses any other address unless --public
is given. Only GET and HEAD are served; stop it with Ctrl-C.

EXAMPLES:
   tierpack catalog serve
   tierpack catalog serve --key core.pub --listen 127.0.0.1:9000 localhost:5000/scripts/falco-debug-bundle
   tierpack catalog serve --public --listen 0.0.0.0:8080`,
			Flags: flags(
				&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "listen on `HOST:PORT` (loopback unless --public)"},
				&cli.BoolFlag{Name: "public", Usage: "allow --listen on an address other machines can reach"},
			),
			Action: action(0, -1, "", func(c *cli.Context, cl *tierpack.Client) error {
				gcstart.Default() // long-running: Go's usual GC target
				if err := catalog.CheckListen(c.String("listen"), c.Bool("public")); err != nil {
					return usagef(c, "%v", err)
				}
				ln, err := net.Listen("tcp", c.String("listen"))
				if err != nil {
					return err
				}
				return run.CatalogServe(envOf(c, cl), catalogRequest(c), ln)
			}),
		}, {
			Name:      "build",
			Usage:     "write the web catalog as static files for any web host",
			ArgsUsage: "[REPO...]",
			Description: `Writes the pages tierpack catalog serve shows into DIR, with relative links, for any
static web host (GitHub Pages, nginx): index.html, tier/T/index.html (T or above),
a/NAME/index.html per artifact, static/ and api/v1/artifacts.json.

EXAMPLES:
   tierpack catalog build -o ./site
   tierpack catalog build --key core.pub -o ./site localhost:5000/scripts/falco-debug-bundle`,
			Flags: flags(option.Output(), &cli.StringFlag{Name: "dir", Aliases: []string{"o", "output-dir"}, Required: true, Usage: "write the site into `DIR`"}),
			Action: action(0, -1, "", func(c *cli.Context, cl *tierpack.Client) error {
				return run.CatalogBuild(envOf(c, cl), run.CatalogBuildOptions{CatalogRequest: catalogRequest(c), Dir: c.String("dir")})
			}),
		}},
	}
}

// catalogRequest maps the catalog commands' flags.
func catalogRequest(c *cli.Context) tierpack.CatalogRequest {
	return tierpack.CatalogRequest{Indexes: c.StringSlice("index"), Files: c.StringSlice("file"),
		Repos: c.Args().Slice(), KeyFiles: c.StringSlice("key"), NoHistory: c.Bool("no-history")}
}
