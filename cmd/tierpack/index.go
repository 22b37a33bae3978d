package main

import (
	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/cmd/tierpack/internal/option"
	"github.com/tierpack/tierpack/cmd/tierpack/internal/run"
	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/tierpack"
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
			option.Output(),
			&cli.StringFlag{Name: "file", Aliases: []string{"o"}, Usage: "write the index to `FILE` (default: stdout)"},
			&cli.StringSliceFlag{Name: "key", Usage: "trusted public `KEY`: only tiers it (or the configured keys) verify are recorded (repeatable)"},
		}, option.Registry()...),
		Action: action(1, -1, "needs at least one repository, like localhost:5000/contrib/falco-quickstart", func(c *cli.Context, cl *tierpack.Client) error {
			req := tierpack.IndexBuildRequest{Repos: c.Args().Slice(), File: c.String("file"), KeyFiles: c.StringSlice("key")}
			if req.File == "-" {
				req.File = ""
			}
			return run.IndexBuild(envOf(c, cl), req)
		}),
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
		Flags: append([]cli.Flag{option.Output()}, option.Registry()...),
		Action: action(2, 2, "needs an index file and a reference", func(c *cli.Context, cl *tierpack.Client) error {
			return run.IndexPush(envOf(c, cl), run.IndexPushOptions{File: c.Args().Get(0), Ref: c.Args().Get(1)})
		}),
	}
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
		Flags: append([]cli.Flag{option.Output()}, option.Registry()...),
		Action: action(2, 2, "needs a name and a location (a file, an http(s) URL or an OCI reference)", func(c *cli.Context, cl *tierpack.Client) error {
			return run.IndexAdd(envOf(c, cl), run.IndexAddOptions{Name: c.Args().Get(0), Location: c.Args().Get(1)})
		}),
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
		Flags: []cli.Flag{option.Output()},
		Action: action(0, 0, "takes no arguments", func(c *cli.Context, cl *tierpack.Client) error {
			return run.IndexList(envOf(c, cl))
		}),
	}
}

func indexRemoveCommand() *cli.Command {
	return &cli.Command{
		Name:      "remove",
		Usage:     "forget a configured index and its cached copy",
		ArgsUsage: "NAME",
		Flags:     []cli.Flag{option.Output()},
		Action: action(1, 1, "needs the name of a configured index (see `tierpack index list`)", func(c *cli.Context, cl *tierpack.Client) error {
			return run.IndexRemove(envOf(c, cl), c.Args().First())
		}),
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
		Flags: append([]cli.Flag{option.Output()}, option.Registry()...),
		Action: action(0, -1, "", func(c *cli.Context, cl *tierpack.Client) error {
			return run.IndexUpdate(envOf(c, cl), c.Args().Slice())
		}),
	}
}
