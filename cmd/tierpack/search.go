package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/tier"
)

const helpSearchFilters = `FILTERS:
   --tier T       versions at tier T or above (contrib < repository < official), the same
                  rule as tierpack pull --tier: --tier repository also shows official ones
   --exact-tier   with --tier: versions of exactly that tier
   --type T       contributions of type T (script, chart, exporter, or a plugin's type)
   An entry is shown when one of its versions passes; the version shown is the latest
   that passes, so its reference is one tierpack pull --tier accepts. Untiered versions
   (pushed by other tools) pass only when no --tier is given.`

func searchFlags() []cli.Flag {
	return []cli.Flag{
		outputFlag(),
		&cli.StringFlag{Name: "tier", Usage: "only versions at `TIER` or above: contrib, repository, official"},
		&cli.BoolFlag{Name: "exact-tier", Usage: "with --tier: only versions of exactly that tier"},
		&cli.StringFlag{Name: "type", Usage: "only contributions of `TYPE` (script, chart, exporter, …)"},
		&cli.StringSliceFlag{Name: "index", Usage: "read only the configured index `NAME` (repeatable)"},
		&cli.StringSliceFlag{Name: "file", Usage: "read the index `FILE` instead of the configured indexes (repeatable)"},
	}
}

func searchCommand() *cli.Command {
	return &cli.Command{
		Name:      "search",
		Usage:     "find contributions in the configured indexes by text, type and tier",
		ArgsUsage: "[TEXT...]",
		Description: `Searches the indexes added with tierpack index add (their cached copies: no network
needed; tierpack index update refreshes them). TEXT matches names, descriptions and
keywords, case-insensitively; with several words, each must match.

` + helpSearchFilters + `

On a terminal long descriptions are shortened; --output json prints every field of the
matching entries, each with the index it came from and the reference to pull.

EXAMPLES:
   tierpack search falco
   tierpack search --tier official
   tierpack search --type chart --tier repository prometheus
   tierpack search --output json debug | jq -r '.results[].reference'`,
		Flags: searchFlags(),
		Action: func(c *cli.Context) error {
			return runSearch(c, strings.Join(c.Args().Slice(), " "))
		},
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
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usagef(c, "takes no arguments; to match text use `tierpack search TEXT`")
			}
			return runSearch(c, "")
		},
	}
}

// searchResult is one line of search output.
type searchResult struct {
	index.Entry
	// Version is the latest version that passed the filters.
	Version index.Version `json:"version"`
	// Reference pulls Version.
	Reference string `json:"reference"`
}

func runSearch(c *cli.Context, text string) error {
	asJSON, err := wantJSON(c)
	if err != nil {
		return err
	}
	q := index.Query{Text: text, Type: c.String("type"), ExactTier: c.Bool("exact-tier")}
	if s := c.String("tier"); s != "" {
		if q.Tier, err = tier.Parse(s); err != nil {
			return usagef(c, "--tier: %v", err)
		}
	}
	if err := q.Validate(); err != nil {
		return usagef(c, "--exact-tier needs --tier T")
	}
	named, err := readIndexes(c)
	if err != nil {
		return err
	}
	merged := index.Merge(named...)
	results := []searchResult{}
	for _, e := range merged.Search(q) {
		v, _ := e.LatestVersion()
		results = append(results, searchResult{Entry: e, Version: v, Reference: e.Reference(v)})
	}
	if asJSON {
		return printJSON(c.App.Writer, map[string]any{"results": results})
	}
	if len(results) == 0 {
		fmt.Fprintf(c.App.ErrWriter, "nothing matches in %d index(es) (%d contribution(s) in all)\n", len(named), len(merged.Entries))
		return nil
	}
	maxDesc := 0 // unlimited when piped: the whole line is data
	if f, ok := c.App.Writer.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		maxDesc = 50
	}
	w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tTYPE\tTIER\tVERSION\tINDEX\tREFERENCE\tDESCRIPTION")
	for _, r := range results {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Type, r.Version.Tier, r.Version.Version, r.Index, r.Reference, shorten(r.Description, maxDesc))
	}
	return w.Flush()
}

// readIndexes reads the index files --file names, or else the configured
// indexes (only those --index names, if any). A configured index that
// cannot be read is reported on stderr and left out, unless none can be
// read.
func readIndexes(c *cli.Context) ([]index.Named, error) {
	var named []index.Named
	if files := c.StringSlice("file"); len(files) > 0 {
		if len(c.StringSlice("index")) > 0 {
			return nil, usagef(c, "use --file or --index, not both")
		}
		for _, f := range files {
			ix, err := index.Load(f)
			if err != nil {
				return nil, err
			}
			named = append(named, index.Named{Name: f, Index: ix})
		}
		return named, nil
	}
	cfg, err := indexConfig(c)
	if err != nil {
		return nil, err
	}
	var srcs []index.Source
	if names := c.StringSlice("index"); len(names) > 0 {
		for _, n := range names {
			s, err := cfg.Source(n)
			if err != nil {
				return nil, err
			}
			srcs = append(srcs, s)
		}
	} else if srcs, err = cfg.Sources(); err != nil {
		return nil, err
	}
	if len(srcs) == 0 {
		return nil, errors.New("no index is configured: add one with `tierpack index add NAME FILE|URL|REF` (build one with `tierpack index build`), or search a file with --file")
	}
	var errs []error
	for _, s := range srcs {
		ix, err := cfg.Read(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		named = append(named, index.Named{Name: s.Name, Index: ix})
	}
	if len(named) == 0 {
		return nil, errors.Join(errs...)
	}
	for _, err := range errs {
		fmt.Fprintf(c.App.ErrWriter, "tierpack: warning: %v\n", err)
	}
	return named, nil
}

// shorten cuts s to max runes with an ellipsis; max 0 means no limit.
func shorten(s string, max int) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:max-1])) + "…"
}
