package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/contrib"
)

func packageCommand() *cli.Command {
	return &cli.Command{
		Name:      "package",
		Usage:     "validate and package a contribution into the local store",
		ArgsUsage: "DIR",
		Description: `Validates DIR with its type's plugin and stores the artifact in the local store
as NAME:VERSION (from tierpack.yaml), with no server involved. Push it later, or pull
it back with tierpack pull NAME:VERSION.

EXAMPLES:
   tierpack package ./falco-quickstart
   tierpack inspect falco-quickstart:0.1.0`,
		Flags: []cli.Flag{outputFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef(c, "needs exactly one folder argument")
			}
			return publish(c, c.Args().First(), "")
		},
	}
}

func pushCommand() *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "validate, package and push a contribution to a registry, OCI layout or the local store",
		ArgsUsage: "DIR REF",
		Description: `Validates DIR with its type's plugin, builds the OCI artifact annotated with its
tier and type, and pushes it to REF. Without a tag, REF gets the version from
tierpack.yaml ('+' becomes '_'). Only blobs the target lacks are uploaded, and the tag
is written last, so a failed push never leaves a tag pointing at missing content.
Unchanged content gives the same digest every time.

` + helpReferences + `

EXAMPLES:
   tierpack push ./falco-quickstart falco-quickstart                 # local store
   tierpack push ./falco-quickstart localhost:5000/contrib/falco-quickstart
   tierpack push ./falco-quickstart oci:./layout:0.1.0
   tierpack push --output json ./falco-quickstart ghcr.io/org/falco-quickstart:0.1.0`,
		Flags: append([]cli.Flag{outputFlag()}, registryFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usagef(c, "needs a contribution folder and a reference")
			}
			return publish(c, c.Args().Get(0), c.Args().Get(1))
		},
	}
}

// publish packs dir and pushes it to ref (the local store NAME:VERSION when
// ref is empty).
func publish(c *cli.Context, dir, refStr string) error {
	asJSON, err := wantJSON(c)
	if err != nil {
		return err
	}
	m, err := contrib.Load(dir)
	if err != nil {
		return err
	}
	var ref target.Ref
	if refStr == "" {
		ref = target.Ref{Kind: target.Local, Repository: m.Name}
	} else if ref, err = target.Parse(refStr); err != nil {
		return usageError{err}
	}
	if ref.Digest != "" {
		return usagef(c, "%s: push to a tag, not a digest (the digest is computed from the content)", refStr)
	}
	if ref.Tag == "" {
		ref = ref.WithTag(contrib.TagFor(m.Version))
	}
	created, err := sourceDateEpoch()
	if err != nil {
		return usageError{err}
	}
	plugins, err := pluginManager(c)
	if err != nil {
		return err
	}
	defer plugins.Close()
	popts := artifact.PackOptions{Created: created}
	popts.Cache, _ = openCache(c) // without a cache, packaging is only slower
	packed, err := artifact.Pack(c.Context, plugins, m, popts)
	if err != nil {
		var ve *artifact.ValidationError
		if errors.As(err, &ve) && !asJSON {
			printDiagnostics(c.App.ErrWriter, ve.Diagnostics)
			return cli.Exit(fmt.Sprintf("%s: not pushed: %d error(s) (run `tierpack validate %s` for details)", dir, sdk.Count(ve.Diagnostics, sdk.SeverityError), dir), exitInvalid)
		}
		return err
	}
	defer packed.Close()
	pol, err := loadPolicy(c)
	if err != nil {
		return err
	}
	if err := pol.Check(m.Name+" ("+dir+")", m.Tier, artifact.ContributionFacts(packed)); err != nil {
		return fmt.Errorf("%w\nnothing was pushed", err)
	}
	t, err := target.Open(c.Context, ref, targetOptions(c, false))
	if err != nil {
		return err
	}
	defer t.Close()
	progress, stop := newProgress(c, asJSON)
	res, err := packed.Push(c.Context, t.Store, ref.Tag, artifact.PushOptions{Progress: progress})
	stop()
	if err != nil {
		return fmt.Errorf("pushing to %s: %w", ref, err)
	}
	if asJSON {
		return printJSON(c.App.Writer, map[string]any{
			"reference": ref.String(), "kind": ref.Kind.String(),
			"digest": res.Digest, "mediaType": res.MediaType, "size": res.Size,
			"name": m.Name, "version": m.Version, "type": m.Type, "tier": m.Tier,
			"uploaded": res.Uploaded, "skipped": res.Skipped, "bytesUploaded": res.BytesUploaded,
			"diagnostics": nonNil(packed.Diagnostics),
		})
	}
	printDiagnostics(c.App.ErrWriter, packed.Diagnostics)
	where := ref.String()
	if ref.Kind == target.Local {
		where += " (local store)"
	}
	note(c, "pushed %s %s contribution %s: %d blob(s) uploaded, %d already present\n", m.Tier, m.Type, where, res.Uploaded, res.Skipped)
	fmt.Fprintln(c.App.Writer, ref.WithTag("").String()+"@"+res.Digest)
	return nil
}
