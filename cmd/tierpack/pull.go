package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/cmd/tierpack/internal/option"
	"github.com/tierpack/tierpack/cmd/tierpack/internal/run"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk/archive"
	"github.com/tierpack/tierpack/sdk/tier"
)

func pullCommand() *cli.Command {
	return &cli.Command{
		Name:         "pull",
		BashComplete: completeRefs,
		Usage:        "pull a contribution, refusing anything below --tier",
		ArgsUsage:    "REF",
		Description: `Fetches REF, checks its tier, verifies every blob against its digest, and has the
type's plugin unpack it into a folder (default ./NAME). The folder appears complete or
not at all: a failed or interrupted pull leaves nothing behind and any previous
content untouched.

--tier T refuses an artifact whose tier is below T (contrib < repository < official);
artifacts with no tier (pushed by other tools) count as below contrib.

From a multi-platform artifact (an image index, such as an exporter) pull takes this
machine's platform, the one --platform names, or with --all-platforms every one, each
into DIR/OS-ARCH (e.g. DIR/linux-amd64).

LIMITS: a pull treats the artifact as hostile. Everything it unpacks — every layer of
every platform together — must stay within --max-size (default 4GiB of file content),
--max-file-size (1GiB for one file) and --max-entries (100000 files, folders and links);
raise them only for artifacts you trust. Unsafe entries (paths leaving the folder,
escaping symlinks, devices, sparse files), corrupt layers and exceeded limits exit 8.
Sizes take a unit: 500MiB, 8GiB, 1TiB, or plain bytes.

` + helpReferences + `

EXAMPLES:
   tierpack pull falco-quickstart:0.1.0
   tierpack pull localhost:5000/contrib/falco-quickstart:0.1.0 -o ./qs --tier repository
   tierpack pull --output json oci:./layout:0.1.0 -o ./out --force
   tierpack pull localhost:5000/exporters/falco-demo-exporter:0.1.0 --all-platforms -o ./fde`,
		Flags: append([]cli.Flag{
			option.Output(),
			&cli.StringFlag{Name: "dir", Aliases: []string{"o"}, Usage: "unpack into `DIR` (default ./NAME)"},
			&cli.StringFlag{Name: "tier", Usage: "refuse artifacts below `TIER`: contrib, repository, official"},
			&cli.BoolFlag{Name: "force", Usage: "replace DIR if it exists and is not empty (atomically)"},
			&cli.StringFlag{Name: "platform", Usage: "`OS/ARCH` to pull from a multi-platform artifact (default: this machine's)"},
			&cli.BoolFlag{Name: "all-platforms", Usage: "pull every platform of a multi-platform artifact, each into DIR/OS-ARCH"},
			&cli.StringSliceFlag{Name: "key", Usage: "trusted public `KEY` for --tier official (repeatable; see tierpack verify --help)"},
			&cli.BoolFlag{Name: "keep-archive", Usage: "charts: keep the chart's .tgz (as helm pull does) instead of unpacking it"},
			&cli.StringSliceFlag{Name: "option", Usage: "`KEY=VALUE` passed to the type's plugin (repeatable)"},
			&cli.StringFlag{Name: "max-size", Value: "4GiB", EnvVars: []string{"TIERPACK_MAX_SIZE"}, Usage: "refuse an artifact that unpacks to more than `SIZE` of file content (all layers and platforms)"},
			&cli.StringFlag{Name: "max-file-size", Value: "1GiB", EnvVars: []string{"TIERPACK_MAX_FILE_SIZE"}, Usage: "refuse an artifact holding a file larger than `SIZE`"},
			&cli.IntFlag{Name: "max-entries", Value: archive.DefaultMaxEntries, EnvVars: []string{"TIERPACK_MAX_ENTRIES"}, Usage: "refuse an artifact that unpacks to more than `N` files, folders and links"},
		}, option.Registry()...),
		Action: action(1, 1, "needs exactly one reference", func(c *cli.Context, cl *tierpack.Client) error {
			req, err := pullRequest(c)
			if err != nil {
				return err
			}
			e, done := transferEnv(c, cl)
			defer done()
			return run.Pull(e, req)
		}),
	}
}

// tierFlag is the tier flag name gives, tier.None when it is not set.
func tierFlag(c *cli.Context, name string) (tier.Tier, error) {
	if s := c.String(name); s != "" {
		t, err := tier.Parse(s)
		if err != nil {
			return t, usageError{err}
		}
		return t, nil
	}
	return tier.None, nil
}

// pullRequest maps pull's flags to the use case's request.
func pullRequest(c *cli.Context) (tierpack.PullRequest, error) {
	req := tierpack.PullRequest{
		Ref: c.Args().First(), OutputDir: c.String("dir"), Force: c.Bool("force"), Platform: c.String("platform"),
		AllPlatforms: c.Bool("all-platforms"), KeyFiles: c.StringSlice("key"), Options: map[string]string{},
	}
	var err error
	if req.MinTier, err = tierFlag(c, "tier"); err != nil {
		return req, err
	}
	for _, kv := range c.StringSlice("option") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return req, usagef(c, "--option %q: use KEY=VALUE", kv)
		}
		req.Options[k] = v
	}
	if c.Bool("keep-archive") {
		req.Options["keep-archive"] = "true"
	}
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"max-size", &req.Limits.MaxTotalSize}, {"max-file-size", &req.Limits.MaxFileSize}} {
		if *f.dst, err = archive.ParseSize(c.String(f.name)); err != nil {
			return req, usagef(c, "--%s: %v", f.name, err)
		}
	}
	if req.Limits.MaxEntries = c.Int("max-entries"); req.Limits.MaxEntries <= 0 {
		return req, usagef(c, "--max-entries %d: give a positive number", req.Limits.MaxEntries)
	}
	return req, nil
}
