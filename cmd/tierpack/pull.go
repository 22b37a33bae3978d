package main

import (
	"context"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/tier"
)

func pullCommand() *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "pull a contribution, refusing anything below --tier",
		ArgsUsage: "REF",
		Description: `Fetches REF, checks its tier, verifies every blob against its digest, and has the
type's plugin unpack it into a folder (default ./NAME). The folder appears complete or
not at all: a failed or interrupted pull leaves nothing behind and any previous
content untouched.

--tier T refuses an artifact whose tier is below T (contrib < repository < official);
artifacts with no tier (pushed by other tools) count as below contrib.

From a multi-platform artifact (an image index, such as an exporter) pull takes this
machine's platform, the one --platform names, or with --all-platforms every one, each
into DIR/OS-ARCH (e.g. DIR/linux-amd64).

` + helpReferences + `

EXAMPLES:
   tierpack pull falco-quickstart:0.1.0
   tierpack pull localhost:5000/contrib/falco-quickstart:0.1.0 -o ./qs --tier repository
   tierpack pull --output json oci:./layout:0.1.0 -o ./out --force
   tierpack pull localhost:5000/exporters/falco-demo-exporter:0.1.0 --all-platforms -o ./fde`,
		Flags: append([]cli.Flag{
			outputFlag(),
			&cli.StringFlag{Name: "dir", Aliases: []string{"o"}, Usage: "unpack into `DIR` (default ./NAME)"},
			&cli.StringFlag{Name: "tier", Usage: "refuse artifacts below `TIER`: contrib, repository, official"},
			&cli.BoolFlag{Name: "force", Usage: "replace DIR if it exists and is not empty (atomically)"},
			&cli.StringFlag{Name: "platform", Usage: "`OS/ARCH` to pull from a multi-platform artifact (default: this machine's)"},
			&cli.BoolFlag{Name: "all-platforms", Usage: "pull every platform of a multi-platform artifact, each into DIR/OS-ARCH"},
			&cli.StringSliceFlag{Name: "key", Usage: "trusted public `KEY` for --tier official (repeatable; see tierpack verify --help)"},
			&cli.BoolFlag{Name: "keep-archive", Usage: "charts: keep the chart's .tgz (as helm pull does) instead of unpacking it"},
			&cli.StringSliceFlag{Name: "option", Usage: "`KEY=VALUE` passed to the type's plugin (repeatable)"},
		}, registryFlags()...),
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return usagef(c, "needs exactly one reference")
			}
			opts := artifact.PullOptions{OutputDir: c.String("dir"), Force: c.Bool("force"), Options: map[string]string{}}
			if s := c.String("tier"); s != "" {
				if opts.MinTier, err = tier.Parse(s); err != nil {
					return usageError{err}
				}
			}
			if s := c.String("platform"); s != "" {
				p, err := parsePlatform(s)
				if err != nil {
					return usagef(c, "%v", err)
				}
				opts.Platform = &p
			}
			if c.Bool("all-platforms") {
				if opts.Platform != nil {
					return usagef(c, "--platform and --all-platforms exclude each other")
				}
				opts.AllPlatforms = true
			}
			for _, kv := range c.StringSlice("option") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return usagef(c, "--option %q: use KEY=VALUE", kv)
				}
				opts.Options[k] = v
			}
			if c.Bool("keep-archive") {
				opts.Options["keep-archive"] = "true"
			}
			t, err := openRef(c, c.Args().First(), true)
			if err != nil {
				return err
			}
			defer t.Close()
			if opts.MinTier >= tier.Repository {
				pol, keys, err := trust(c)
				if err != nil {
					return err
				}
				// The tier annotation is a claim; the policy checks what backs it.
				opts.Check = func(ctx context.Context, info *artifact.Info) error {
					return pol.Check(t.Ref.String(), opts.MinTier, artifact.ArtifactFacts(ctx, t, info, opts.MinTier, keys))
				}
			}
			plugins, err := pluginManager(c)
			if err != nil {
				return err
			}
			defer plugins.Close()
			var stop func()
			opts.Progress, stop = newProgress(c, asJSON)
			res, err := artifact.Pull(c.Context, plugins, t, opts)
			stop()
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(c.App.Writer, res)
			}
			where := res.OutputDir
			if len(res.Platforms) > 0 {
				where += " (" + strings.Join(res.Platforms, ", ") + ")"
			}
			note(c, "pulled %s %s %s (%s) into %s: %d file(s)\n",
				res.Info.Tier, res.Info.Type, t.Ref, res.Info.Digest, where, len(res.Files))
			fmt.Fprintln(c.App.Writer, res.OutputDir)
			return nil
		},
	}
}

func parsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return ocispec.Platform{}, fmt.Errorf("--platform %q: use OS/ARCH[/VARIANT], e.g. linux/amd64", s)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}
