package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/pkg/artifact"
)

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show an artifact's tier, type, annotations and layers",
		ArgsUsage: "REF",
		Description: `Resolves REF and prints what tierpack knows about it without downloading layers.

` + helpReferences + `

EXAMPLES:
   tierpack inspect falco-quickstart:0.1.0
   tierpack inspect --output json localhost:5000/contrib/falco-quickstart:0.1.0 | jq -r .tier`,
		Flags: append([]cli.Flag{outputFlag()}, registryFlags()...),
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return usagef(c, "needs exactly one reference")
			}
			t, err := openRef(c, c.Args().First(), true)
			if err != nil {
				return err
			}
			defer t.Close()
			info, err := artifact.Resolve(c.Context, t, nil)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(c.App.Writer, info)
			}
			w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
			row := func(k, v string) {
				if v != "" {
					fmt.Fprintf(w, "%s:\t%s\n", k, v)
				}
			}
			row("Reference", info.Reference)
			row("Digest", info.Digest)
			row("Media type", info.MediaType)
			row("Artifact type", info.ArtifactType)
			row("Tier", info.Tier.String())
			row("Type", info.Type)
			row("Name", info.Name)
			row("Version", info.Version)
			w.Flush()
			if len(info.Annotations) > 0 {
				fmt.Fprintln(c.App.Writer, "Annotations:")
				for _, k := range sortedKeys(info.Annotations) {
					fmt.Fprintf(c.App.Writer, "  %s: %s\n", k, info.Annotations[k])
				}
			}
			if len(info.Manifests) > 0 {
				fmt.Fprintln(c.App.Writer, "Platforms:")
				for _, m := range info.Manifests {
					p := "(none)"
					if m.Platform != nil {
						p = m.Platform.OS + "/" + m.Platform.Architecture
					}
					fmt.Fprintf(c.App.Writer, "  %s  %s  %d bytes\n", p, m.Digest, m.Size)
				}
			}
			if len(info.Layers) > 0 {
				fmt.Fprintln(c.App.Writer, "Layers:")
				for _, l := range info.Layers {
					title := l.Annotations["org.opencontainers.image.title"]
					fmt.Fprintf(c.App.Writer, "  %s  %s  %d bytes  %s\n", l.Digest, l.MediaType, l.Size, title)
				}
			}
			return nil
		},
	}
}
