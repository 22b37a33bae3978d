package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/pkg/tier"
	"github.com/tierpack/tierpack/sdk/contrib"
)

func initCommand() *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "create a new contribution folder with a tierpack.yaml",
		ArgsUsage: "DIR",
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
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef(c, "needs exactly one folder argument")
			}
			dir := c.Args().First()
			name := c.String("name")
			if name == "" {
				abs, err := filepath.Abs(dir)
				if err != nil {
					return err
				}
				name = strings.ToLower(filepath.Base(abs))
			}
			t, err := tier.Parse(c.String("tier"))
			if err != nil {
				return usageError{err}
			}
			files := starterFiles(c.String("type"), name, t)
			if _, err := contrib.Parse([]byte(files[contrib.FileName].body)); err != nil {
				return usageError{fmt.Errorf("cannot create a contribution named %q of type %q (choose a name with --name):\n%v", name, c.String("type"), err)}
			}
			if _, err := os.Stat(filepath.Join(dir, contrib.FileName)); err == nil {
				return fmt.Errorf("%s already has a %s; edit it instead", dir, contrib.FileName)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			var created []string
			for _, n := range sortedKeys(files) {
				f := files[n]
				p := filepath.Join(dir, n)
				if _, err := os.Stat(p); err == nil {
					continue // never overwrite the user's files
				} else if !errors.Is(err, os.ErrNotExist) {
					return err
				}
				if err := os.WriteFile(p, []byte(f.body), f.mode); err != nil {
					return err
				}
				created = append(created, p)
			}
			for _, p := range created {
				note(c, "created %s\n", p)
			}
			note(c, "next: edit them, then run `tierpack validate %s`\n", dir)
			return nil
		},
	}
}

type starterFile struct {
	body string
	mode os.FileMode
}

func starterFiles(typ, name string, t tier.Tier) map[string]starterFile {
	manifest := fmt.Sprintf(`apiVersion: %s
name: %s
version: 0.1.0
type: %s
tier: %s
description: One line that says what %s does.
license: Apache-2.0
`, contrib.APIVersion, name, typ, t, name)
	if t >= tier.Repository {
		manifest += `source:
  url: https://github.com/ORG/REPO
  revision: main
owners: OWNERS
`
	}
	files := map[string]starterFile{contrib.FileName: {manifest, 0o644}}
	if t >= tier.Repository {
		files["OWNERS"] = starterFile{"approvers:\n  - your-github-handle\nreviewers:\n  - your-github-handle\n", 0o644}
	}
	if typ == "script" {
		files[contrib.FileName] = starterFile{manifest + "files:\n  - install.sh\n  - README.md\nspec:\n  entrypoint: install.sh\n", 0o644}
		files["install.sh"] = starterFile{"#!/usr/bin/env bash\n# " + name + ": what this script does.\nset -euo pipefail\n\necho \"hello from " + name + "\"\n", 0o755}
		files["README.md"] = starterFile{"# " + name + "\n\nWhat it does, how to run it, what it needs.\n\n    ./install.sh\n", 0o644}
	}
	return files
}
