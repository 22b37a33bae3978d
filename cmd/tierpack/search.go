package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/cmd/tierpack/internal/option"
	"github.com/tierpack/tierpack/cmd/tierpack/internal/run"
	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk/tier"
)

const helpSearchFilters = `FILTERS:
   --tier T       versions at tier T or above (contrib < repository < official), the same
                  rule as tierpack pull --tier: --tier repository also shows official ones
   --exact-tier   with --tier: versions of exactly that tier
   --type T       contributions of type T (script, chart, exporter, or a plugin's type)
   An entry is shown when one of its versions passes; the version shown is the latest
   that passes, so its reference is one tierpack pull --tier accepts. Untiered versions
   (pushed by other tools) pass only when no --tier is given.

TIERS ARE CHECKED:
   An index is a file whoever publishes it can edit, so the tier it gives a version is
   believed only when this client's trusted keys (--key, trusted-keys, the policy)
   verify the tier record it names; the record is fetched from the version's registry
   the first time, then kept in the cache. Otherwise the version shows at contrib, with
   the index's tier as a claim ("contrib (claimed official, unverified)"), and --tier
   filters on what is verified. A demoted version says so ("demoted from official:
   security, CVE-2026-1234").`

func searchFlags() []cli.Flag {
	return append([]cli.Flag{
		option.Output(),
		&cli.StringFlag{Name: "tier", Usage: "only versions at `TIER` or above: contrib, repository, official"},
		&cli.BoolFlag{Name: "exact-tier", Usage: "with --tier: only versions of exactly that tier"},
		&cli.StringFlag{Name: "type", Usage: "only contributions of `TYPE` (script, chart, exporter, …)"},
		&cli.StringSliceFlag{Name: "index", Usage: "read only the configured index `NAME` (repeatable)"},
		&cli.StringSliceFlag{Name: "file", Usage: "read the index `FILE` instead of the configured indexes (repeatable)"},
		&cli.StringSliceFlag{Name: "key", Usage: "also trust public `KEY` when checking the tier records indexes name (repeatable)"},
	}, option.Connection()...)
}

func searchCommand() *cli.Command {
	return &cli.Command{
		Name:      "search",
		Usage:     "find contributions in the configured indexes by text, type and tier",
		ArgsUsage: "[TEXT...]",
		Description: `Searches the indexes added with tierpack index add (their cached copies; tierpack index
update refreshes them). TEXT matches names, descriptions and
keywords, case-insensitively; with several words, each must match. The tier records they
name are checked (see TIERS ARE CHECKED): the first time, that asks the registries.

` + helpSearchFilters + `

On a terminal long descriptions are shortened; --output json prints every field of the
matching entries, each with the index it came from and the reference to pull.

EXAMPLES:
   tierpack search falco
   tierpack search --tier official
   tierpack search --type chart --tier repository prometheus
   tierpack search --output json debug | jq -r '.results[].reference'`,
		Flags: searchFlags(),
		Action: action(0, -1, "", func(c *cli.Context, cl *tierpack.Client) error {
			return runSearch(c, cl, strings.Join(c.Args().Slice(), " "))
		}),
	}
}

func listCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the contributions in the configured indexes",
		Description: `Lists every contribution of the indexes added with tierpack index add: tierpack search
without text, with the same filters.

` + helpSearchFilters + `

EXAMPLES:
   tierpack list
   tierpack list --tier repository --type script`,
		Flags: searchFlags(),
		Action: action(0, 0, "takes no arguments; to match text use `tierpack search TEXT`", func(c *cli.Context, cl *tierpack.Client) error {
			return runSearch(c, cl, "")
		}),
	}
}

func runSearch(c *cli.Context, cl *tierpack.Client, text string) error {
	var err error
	req := tierpack.SearchRequest{
		Query:   index.Query{Text: text, Type: c.String("type"), ExactTier: c.Bool("exact-tier")},
		Indexes: c.StringSlice("index"), Files: c.StringSlice("file"), KeyFiles: c.StringSlice("key"),
	}
	if s := c.String("tier"); s != "" {
		if req.Tier, err = tier.Parse(s); err != nil {
			return usagef(c, "--tier: %v", err)
		}
	}
	return run.Search(envOf(c, cl), req)
}
