package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/target"
)

const helpIndexFormat = `INDEX FORMAT:
   YAML, apiVersion tierpack.dev/v1, kind Index: one entry per repository (name, type,
   tier, repository, latest, description, license, source, homepage, keywords,
   maintainers) with its versions (version, tags, digest, tier, created, revision),
   sorted, with nothing that changes between runs. ` + "`go doc github.com/tierpack/tierpack/pkg/index`" + `
   documents every field.`

func indexCommand() *cli.Command {
	return &cli.Command{
		Name:  "index",
		Usage: "build, publish and configure indexes of contributions (for search and list)",
		Description: `An index is a YAML catalogue of the contributions in some repositories, like
falcoctl's index.yaml. Build one from registry repositories, publish it (a file on a web
server, or an OCI artifact), and add it to tierpack; then search and list read it.

   tierpack index build ghcr.io/org/contrib/a ghcr.io/org/contrib/b -o index.yaml
   tierpack index push index.yaml ghcr.io/org/index:latest
   tierpack index add org ghcr.io/org/index            # or a URL, or a file
   tierpack search --tier repository falco

` + helpIndexFormat,
		Subcommands: []*cli.Command{
			indexBuildCommand(),
			indexPushCommand(),
			indexAddCommand(),
			indexListCommand(),
			indexRemoveCommand(),
			indexUpdateCommand(),
		},
	}
}

func indexBuildCommand() *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "write an index of the contributions in repositories",
		ArgsUsage: "REPO...",
		Description: `Lists the tags of each repository, resolves them, and writes one entry per repository
with all its versions; the latest version (highest semver release) describes the entry.
Cosign signature tags (sha256-….sig, .att, .sbom) and OCI referrer fallback tags
(sha256-…) are left out; other tags that hold no tierpack contribution are left out with
a note on stderr. A REPO with a :TAG or @DIGEST indexes that version only.

The index goes to stdout, or with --file to FILE (written atomically). With --output
json, stdout gets one JSON document with the index and what was skipped.

` + helpReferences + `

` + helpIndexFormat + `

EXAMPLES:
   tierpack index build localhost:5000/contrib/falco-quickstart localhost:5000/charts/x -o index.yaml
   tierpack index build oci:./layout falco-quickstart > index.yaml`,
		Flags: append([]cli.Flag{
			outputFlag(),
			&cli.StringFlag{Name: "file", Aliases: []string{"o"}, Usage: "write the index to `FILE` (default: stdout)"},
		}, registryFlags()...),
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			if c.NArg() == 0 {
				return usagef(c, "needs at least one repository, like localhost:5000/contrib/falco-quickstart")
			}
			var targets []*target.Target
			defer func() {
				for _, t := range targets {
					t.Close()
				}
			}()
			for _, s := range c.Args().Slice() {
				t, err := openRef(c, s, true)
				if err != nil {
					return err
				}
				targets = append(targets, t)
			}
			type skipped struct {
				Reference string `json:"reference"`
				Reason    string `json:"reason"`
			}
			skips := []skipped{}
			b := index.Builder{Skipped: func(ref, reason string) {
				skips = append(skips, skipped{ref, reason})
				if !asJSON {
					fmt.Fprintf(c.App.ErrWriter, "skipped %s: %s\n", ref, reason)
				}
			}}
			ix, err := b.Build(c.Context, targets...)
			if err != nil {
				return err
			}
			file := c.String("file")
			if file != "" && file != "-" {
				if err := ix.Save(file); err != nil {
					return fmt.Errorf("writing the index: %w", err)
				}
			} else if !asJSON {
				data, err := ix.Marshal()
				if err != nil {
					return err
				}
				if _, err := c.App.Writer.Write(data); err != nil {
					return err
				}
				file = ""
			}
			versions := 0
			for _, e := range ix.Entries {
				versions += len(e.Versions)
			}
			if asJSON {
				return printJSON(c.App.Writer, map[string]any{"file": file, "index": ix, "skipped": skips})
			}
			what := "indexed"
			if file != "" {
				what = "wrote " + file + ":"
			}
			fmt.Fprintf(c.App.ErrWriter, "%s %d contribution(s), %d version(s) from %d repository reference(s)\n", what, len(ix.Entries), versions, len(targets))
			return nil
		},
	}
}

func indexPushCommand() *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "publish an index file as an OCI artifact",
		ArgsUsage: "FILE REF",
		Description: `Checks FILE, then pushes it to REF as an OCI artifact (artifactType ` + index.MediaType + `,
the empty config, one layer holding the YAML) tagged with REF's tag, default "latest".
Anyone can then add it with tierpack index add NAME REF, or fetch it with oras pull.
org.opencontainers.image.created is set only from SOURCE_DATE_EPOCH, so the same
index always gives the same digest.

EXAMPLES:
   tierpack index push index.yaml localhost:5000/falcosecurity/index
   tierpack index push index.yaml ghcr.io/org/index:v1`,
		Flags: append([]cli.Flag{outputFlag()}, registryFlags()...),
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			if c.NArg() != 2 {
				return usagef(c, "needs an index file and a reference")
			}
			file := c.Args().Get(0)
			ix, data, err := index.ReadFile(file)
			if err != nil {
				return err
			}
			created, err := sourceDateEpoch()
			if err != nil {
				return usageError{err}
			}
			t, err := openRef(c, c.Args().Get(1), false)
			if err != nil {
				return err
			}
			defer t.Close()
			desc, err := index.Push(c.Context, t, data, index.PushOptions{Created: created})
			if err != nil {
				return err
			}
			tag := t.Ref.Tag
			if tag == "" {
				tag = index.DefaultTag
			}
			ref := t.Ref.WithTag(tag)
			if asJSON {
				return printJSON(c.App.Writer, map[string]any{"reference": ref.String(), "digest": desc.Digest.String(), "entries": len(ix.Entries)})
			}
			fmt.Fprintf(c.App.ErrWriter, "published index %s (%d contribution(s)) as %s\n", file, len(ix.Entries), ref)
			fmt.Fprintf(c.App.Writer, "%s@%s\n", ref.WithTag(""), desc.Digest)
			return nil
		},
	}
}

// indexConfig is the configured-index store in the data folder.
func indexConfig(c *cli.Context) (*index.Config, error) {
	dir, err := target.DataDir()
	if err != nil {
		return nil, err
	}
	return &index.Config{Dir: dir, Fetch: index.FetchOptions{
		Target:    targetOptions(c, true),
		UserAgent: "tierpack/" + tierpackVersion(),
	}}, nil
}

func indexAddCommand() *cli.Command {
	return &cli.Command{
		Name:      "add",
		Usage:     "configure an index for search and list",
		ArgsUsage: "NAME FILE|URL|REF",
		Description: `Fetches the index, checks it, and records it as NAME in $TIERPACK_HOME/indexes.yaml.
The location is:
   http://… or https://…      fetched now and cached; tierpack index update refreshes it
   a file (an existing path, *.yaml, /…, ./…, file://…)
                              read afresh by every search, never cached
   an OCI reference           an index published with tierpack index push (tag default
                              "latest"); fetched now and cached

Indexes added first win when two list the same repository.

EXAMPLES:
   tierpack index add falco https://example.org/tierpack/index.yaml
   tierpack index add local ./index.yaml
   tierpack index add org localhost:5000/org/index`,
		Flags: append([]cli.Flag{outputFlag()}, registryFlags()...),
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			if c.NArg() != 2 {
				return usagef(c, "needs a name and a location (a file, an http(s) URL or an OCI reference)")
			}
			src, err := index.ParseSource(c.Args().Get(0), c.Args().Get(1))
			if err != nil {
				return usageError{err}
			}
			if src.Kind == index.OCISource {
				src.PlainHTTP = c.Bool("plain-http")
			}
			cfg, err := indexConfig(c)
			if err != nil {
				return err
			}
			ix, err := cfg.Add(c.Context, src)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(c.App.Writer, map[string]any{"index": src, "entries": len(ix.Entries)})
			}
			fmt.Fprintf(c.App.ErrWriter, "added index %s (%s %s): %d contribution(s)\n", src.Name, src.Kind, src.Location, len(ix.Entries))
			return nil
		},
	}
}

func indexListCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "show the configured indexes",
		Description: `Lists the indexes search and list read, in order of precedence, with how many
contributions each holds and when it was last fetched (files: modified).

EXAMPLES:
   tierpack index list
   tierpack index list --output json`,
		Flags: []cli.Flag{outputFlag()},
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			if c.NArg() != 0 {
				return usagef(c, "takes no arguments")
			}
			cfg, err := indexConfig(c)
			if err != nil {
				return err
			}
			srcs, err := cfg.Sources()
			if err != nil {
				return err
			}
			type row struct {
				index.Source
				Entries int        `json:"entries"`
				Updated *time.Time `json:"updated,omitempty"`
				Error   string     `json:"error,omitempty"`
			}
			rows := []row{}
			for _, s := range srcs {
				r := row{Source: s}
				if ix, err := cfg.Read(s); err != nil {
					r.Error = err.Error()
				} else {
					r.Entries = len(ix.Entries)
				}
				if t, ok := cfg.Updated(s); ok {
					t = t.UTC().Truncate(time.Second)
					r.Updated = &t
				}
				rows = append(rows, r)
			}
			if asJSON {
				return printJSON(c.App.Writer, map[string]any{"indexes": rows})
			}
			if len(rows) == 0 {
				fmt.Fprintln(c.App.ErrWriter, "no index is configured; add one with `tierpack index add NAME FILE|URL|REF`")
				return nil
			}
			w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tKIND\tENTRIES\tUPDATED\tLOCATION")
			for _, r := range rows {
				entries, updated := fmt.Sprint(r.Entries), "never"
				if r.Error != "" {
					entries = "error"
				}
				if r.Updated != nil {
					updated = r.Updated.Format("2006-01-02 15:04:05Z")
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Kind, entries, updated, r.Location)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			for _, r := range rows {
				if r.Error != "" {
					fmt.Fprintf(c.App.ErrWriter, "tierpack: warning: %s\n", r.Error)
				}
			}
			return nil
		},
	}
}

func indexRemoveCommand() *cli.Command {
	return &cli.Command{
		Name:      "remove",
		Usage:     "forget a configured index and its cached copy",
		ArgsUsage: "NAME",
		Flags:     []cli.Flag{outputFlag()},
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return usagef(c, "needs the name of a configured index (see `tierpack index list`)")
			}
			cfg, err := indexConfig(c)
			if err != nil {
				return err
			}
			src, err := cfg.Remove(c.Args().First())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(c.App.Writer, map[string]any{"removed": src})
			}
			fmt.Fprintf(c.App.ErrWriter, "removed index %s (%s)\n", src.Name, src.Location)
			return nil
		},
	}
}

func indexUpdateCommand() *cli.Command {
	return &cli.Command{
		Name:      "update",
		Usage:     "fetch configured indexes again and refresh their cached copies",
		ArgsUsage: "[NAME...]",
		Description: `Fetches every configured index (or the ones named) and replaces its cached copy, so
search and list see what was published since. An index that cannot be fetched keeps
its previous copy; the others are still updated, and the exit status is not 0.

EXAMPLES:
   tierpack index update
   tierpack index update falco`,
		Flags: append([]cli.Flag{outputFlag()}, registryFlags()...),
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			cfg, err := indexConfig(c)
			if err != nil {
				return err
			}
			var srcs []index.Source
			if c.NArg() == 0 {
				if srcs, err = cfg.Sources(); err != nil {
					return err
				}
				if len(srcs) == 0 {
					return errors.New("no index is configured: add one with `tierpack index add NAME FILE|URL|REF`")
				}
			}
			for _, name := range c.Args().Slice() {
				s, err := cfg.Source(name)
				if err != nil {
					return err
				}
				srcs = append(srcs, s)
			}
			type result struct {
				Name    string `json:"name"`
				Entries int    `json:"entries"`
				Error   string `json:"error,omitempty"`
			}
			results := []result{}
			var errs []error
			for _, s := range srcs {
				ix, err := cfg.Update(c.Context, s)
				if err != nil {
					errs = append(errs, err)
					results = append(results, result{Name: s.Name, Error: err.Error()})
					continue
				}
				results = append(results, result{Name: s.Name, Entries: len(ix.Entries)})
				if !asJSON {
					fmt.Fprintf(c.App.ErrWriter, "updated index %s: %d contribution(s)\n", s.Name, len(ix.Entries))
				}
			}
			if asJSON {
				if err := printJSON(c.App.Writer, map[string]any{"updated": results}); err != nil {
					return err
				}
			}
			return errors.Join(errs...) // nil when every index was updated
		},
	}
}
