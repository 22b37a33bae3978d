package main

import (
	"fmt"
	"maps"
	"slices"
	"text/tabwriter"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/pkg/tierpack"
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
		Flags: append([]cli.Flag{outputFlag(), &cli.StringSliceFlag{Name: "key", Usage: "trusted public `KEY` to check signatures with (repeatable)"}}, registryFlags()...),
		Action: action(1, 1, "needs exactly one reference", func(c *cli.Context, cl *tierpack.Client) error {
			res, err := cl.Inspect(c.Context, tierpack.InspectRequest{Ref: c.Args().First(), KeyFiles: c.StringSlice("key")})
			if err != nil {
				return err
			}
			if asJSON(c) {
				return printJSON(c, res)
			}
			info, gov := res.Info, res.Report
			w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
			for _, kv := range [][2]string{{"Reference", info.Reference}, {"Digest", info.Digest}, {"Media type", info.MediaType},
				{"Artifact type", info.ArtifactType}, {"Tier", res.Verdict.String()}, {"Type", info.Type}, {"Name", info.Name}, {"Version", info.Version}} {
				if kv[1] != "" {
					fmt.Fprintf(w, "%s:\t%s\n", kv[0], kv[1])
				}
			}
			w.Flush()
			if len(info.Annotations) > 0 {
				fmt.Fprintln(c.App.Writer, "Annotations:")
				for _, k := range slices.Sorted(maps.Keys(info.Annotations)) {
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
			if len(gov.Signatures) > 0 {
				fmt.Fprintln(c.App.Writer, "Signatures:")
				for _, sg := range gov.Signatures {
					trust := "not by a trusted key"
					if sg.TrustedKey != "" {
						trust = "trusted key " + sg.TrustedKey
					}
					fmt.Fprintf(c.App.Writer, "  %s  %s\n", sg.Identity, trust)
				}
			} else {
				fmt.Fprintln(c.App.Writer, "Signatures: none")
			}
			if len(gov.Promotions) > 0 {
				fmt.Fprintln(c.App.Writer, "Promotion history:")
				for _, r := range gov.Promotions {
					line := fmt.Sprintf("  %s  %s -> %s  by %s (key %s)", r.Time.Format("2006-01-02 15:04:05Z"), r.From, r.To, r.By, r.KeyID)
					if r.Reason != "" {
						line += ": " + r.Reason
					}
					fmt.Fprintln(c.App.Writer, line+"  ["+short(r.Source)+" -> "+short(r.Subject)+"]")
				}
			}
			if len(info.Layers) > 0 {
				fmt.Fprintln(c.App.Writer, "Layers:")
				for _, l := range info.Layers {
					fmt.Fprintf(c.App.Writer, "  %s  %s  %d bytes  %s\n", l.Digest, l.MediaType, l.Size, l.Annotations[ocispec.AnnotationTitle])
				}
			}
			return nil
		}),
	}
}
