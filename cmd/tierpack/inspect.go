package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/target"
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
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return usagef(c, "needs exactly one reference")
			}
			t, info, err := resolveRef(c, c.Args().First(), true)
			if err != nil {
				return err
			}
			defer t.Close()
			gov, err := governance(c, t, info)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(c.App.Writer, struct {
					*artifact.Info
					governanceReport
				}{info, gov})
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
					title := l.Annotations["org.opencontainers.image.title"]
					fmt.Fprintf(c.App.Writer, "  %s  %s  %d bytes  %s\n", l.Digest, l.MediaType, l.Size, title)
				}
			}
			return nil
		},
	}
}

// governance gathers an artifact's signatures (checked against the trusted
// keys) and its promotion history, following each record back to the
// manifest it promoted.
func governance(c *cli.Context, t *target.Target, info *artifact.Info) (governanceReport, error) {
	rep := governanceReport{Signatures: []signatureReport{}, Promotions: []promotion.Signed{}}
	_, keys, err := trust(c)
	if err != nil {
		return rep, err
	}
	root := info.Root()
	sigs, err := sign.Signatures(c.Context, t.Store, root.Digest)
	if err != nil {
		return rep, err
	}
	for _, s := range sigs {
		r := signatureReport{Identity: s.Identity, Digest: s.Digest}
		if s.Digest == root.Digest.String() {
			if k, ok := s.SignedBy(keys); ok {
				r.TrustedKey = k.ID
			}
		}
		rep.Signatures = append(rep.Signatures, r)
	}
	subject := root
	for hops := 0; hops < 32; hops++ {
		recs, err := promotion.List(c.Context, t.Store, subject)
		if err != nil || len(recs) == 0 {
			break
		}
		last := recs[len(recs)-1]
		rep.Promotions = append(recs, rep.Promotions...)
		d, err := t.Store.Resolve(c.Context, last.Source)
		if err != nil {
			break
		}
		subject = d
	}
	return rep, nil
}
