package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/pkg/cache"
	"github.com/tierpack/tierpack/pkg/target"
)

// cacheDir is the content-addressed cache: $TIERPACK_HOME/cache.
func cacheDir() (string, error) {
	d, err := target.DataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "cache"), nil
}

// openCache opens the cache for pulls and packaging; nil with --no-cache
// or when there is no data directory to hold it.
func openCache(c *cli.Context) (*cache.Cache, error) {
	if c.Bool("no-cache") {
		return nil, nil
	}
	dir, err := cacheDir()
	if err != nil {
		return nil, nil
	}
	return cache.Open(dir)
}

func cacheCommand() *cli.Command {
	return &cli.Command{
		Name:  "cache",
		Usage: "show or empty the content-addressed cache of pulled and packaged blobs",
		Subcommands: []*cli.Command{
			{
				Name:  "info",
				Usage: "print where the cache is and how much it holds",
				Flags: []cli.Flag{outputFlag()},
				Action: func(c *cli.Context) error {
					asJSON, err := wantJSON(c)
					if err != nil {
						return err
					}
					dir, err := cacheDir()
					if err != nil {
						return err
					}
					var files, bytes int64
					_ = filepath.WalkDir(filepath.Join(dir, "blobs"), func(p string, d fs.DirEntry, err error) error {
						if err == nil && d.Type().IsRegular() {
							if fi, err := d.Info(); err == nil {
								files++
								bytes += fi.Size()
							}
						}
						return nil
					})
					if asJSON {
						return printJSON(c.App.Writer, map[string]any{"dir": dir, "blobs": files, "bytes": bytes})
					}
					fmt.Fprintf(c.App.Writer, "%s: %d blob(s), %.1f MiB\n", dir, files, float64(bytes)/(1<<20))
					return nil
				},
			},
			{
				Name:  "clean",
				Usage: "delete the cache (it refills on the next pull or push)",
				Action: func(c *cli.Context) error {
					dir, err := cacheDir()
					if err != nil {
						return err
					}
					if err := os.RemoveAll(dir); err != nil {
						return fmt.Errorf("deleting %s: %w", dir, err)
					}
					note(c, "deleted %s\n", dir)
					return nil
				},
			},
		},
	}
}
