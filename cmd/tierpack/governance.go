package main

import (
	"errors"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/cmd/tierpack/internal/option"
	"github.com/tierpack/tierpack/cmd/tierpack/internal/run"
	"github.com/tierpack/tierpack/internal/prompt"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk/tier"
)

const helpTrust = `TRUSTED KEYS:
   Signatures count only when made by a trusted key: the public keys given with --key,
   every *.pub in $TIERPACK_HOME/trusted-keys/, and the policy file's trustedKeys.
   Private keys are cosign's format; their password comes from $COSIGN_PASSWORD
   (or a prompt on a terminal).`

// key is the --key private key; its password comes from $COSIGN_PASSWORD,
// else a prompt on a terminal.
func key(c *cli.Context) tierpack.Key {
	return tierpack.Key{File: c.String("key"), Password: askPassword(c, false)}
}

// askPassword asks for a private key's password on a terminal; without
// one the password is empty.
func askPassword(c *cli.Context, confirm bool) func() ([]byte, error) {
	return func() ([]byte, error) {
		p, err := prompt.Password(os.Stdin, c.App.ErrWriter, "Enter password for private key", confirm)
		if errors.Is(err, prompt.ErrNoTerminal) {
			return nil, nil
		}
		return p, err
	}
}

func keyCommand() *cli.Command {
	return &cli.Command{
		Name:  "key",
		Usage: "manage signing keys (cosign-compatible)",
		Subcommands: []*cli.Command{{
			Name:      "generate",
			Usage:     "create a key pair: PREFIX.key (encrypted) and PREFIX.pub",
			ArgsUsage: "[PREFIX]",
			Description: `Writes an ECDSA P-256 key pair in cosign's format: cosign sign/verify accept it, and
tierpack accepts pairs made by cosign generate-key-pair. The private key is encrypted
with the password from $COSIGN_PASSWORD (or a prompt). An empty password — no
$COSIGN_PASSWORD and no terminal to ask on, or an empty answer — is refused unless
--no-password says so. PREFIX defaults to "cosign".

EXAMPLES:
   COSIGN_PASSWORD=... tierpack key generate maintainer
   tierpack key generate --no-password throwaway        # unprotected, e.g. for a test
   cp maintainer.pub $TIERPACK_HOME/trusted-keys/      # trust it for pulls`,
			Flags: []cli.Flag{
				option.Output(),
				&cli.BoolFlag{Name: "force", Usage: "overwrite existing key files"},
				&cli.BoolFlag{Name: "no-password", Usage: "write the private key with an empty password (anyone who reads the file can sign)"},
			},
			Action: action(0, 1, "takes at most one prefix", func(c *cli.Context, cl *tierpack.Client) error {
				return run.KeyGenerate(envOf(c, cl), tierpack.KeyRequest{Prefix: c.Args().First(), Force: c.Bool("force"),
					NoPassword: c.Bool("no-password"), Password: askPassword(c, true)})
			}),
		}},
	}
}

func signCommand() *cli.Command {
	return &cli.Command{
		Name:         "sign",
		BashComplete: completeRefs,
		Usage:        "sign an artifact with a cosign key",
		ArgsUsage:    "REF",
		Description: `Signs the manifest REF resolves to and stores the signature as cosign does (tag
sha256-<hex>.sig beside it), so cosign verify --key accepts it.

EXAMPLES:
   tierpack sign localhost:5000/contrib/x:1.0.0 --key maintainer.key
   cosign verify --key maintainer.pub --insecure-ignore-tlog=true --allow-http-registry localhost:5000/contrib/x:1.0.0`,
		Flags: append([]cli.Flag{option.Output(), &cli.StringFlag{Name: "key", Usage: "cosign private `KEY` file"}}, option.Registry()...),
		Action: action(1, 1, "needs exactly one reference", func(c *cli.Context, cl *tierpack.Client) error {
			return run.Sign(envOf(c, cl), tierpack.SignRequest{Ref: c.Args().First(), Key: key(c)})
		}),
	}
}

func resignCommand() *cli.Command {
	return &cli.Command{
		Name:         "resign",
		BashComplete: completeRefs,
		Usage:        "sign a version's tier records again with a new key (key rotation)",
		ArgsUsage:    "REF",
		Description: `Signs every tier record of REF's lineage that the trusted keys verify again with --key
(the same decisions: the same signed bytes, a new signature), and the manifest itself.
To rotate a key: resign what it signed with the new key, trust the new key in the policy,
then list the old one under revoked: the versions keep their tiers, nothing is re-released.

EXAMPLES:
   tierpack resign localhost:5000/falcosecurity/rules:1.0.0 --key core-2027.key`,
		Flags: append([]cli.Flag{option.Output(), &cli.StringFlag{Name: "key", Usage: "the new cosign private `KEY`"},
			&cli.StringSliceFlag{Name: "trust", Usage: "also trust public `KEY` when choosing the records to sign again (repeatable)"}}, option.Registry()...),
		Action: action(1, 1, "needs exactly one reference", func(c *cli.Context, cl *tierpack.Client) error {
			return run.Resign(envOf(c, cl), tierpack.ResignRequest{Ref: c.Args().First(), Key: key(c), KeyFiles: c.StringSlice("trust")})
		}),
	}
}

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:         "verify",
		BashComplete: completeRefs,
		Usage:        "check an artifact's cosign signature against trusted keys",
		ArgsUsage:    "REF",
		Description: `Exits 0 when the manifest REF resolves to carries a valid signature by a trusted key,
and 4 otherwise, saying what is wrong (no signature, untrusted key).

` + helpTrust + `

EXAMPLES:
   tierpack verify localhost:5000/contrib/x:1.0.0 --key maintainer.pub`,
		Flags: append([]cli.Flag{option.Output(), &cli.StringSliceFlag{Name: "key", Usage: "trusted public `KEY` file (repeatable)"}}, option.Registry()...),
		Action: action(1, 1, "needs exactly one reference", func(c *cli.Context, cl *tierpack.Client) error {
			return run.Verify(envOf(c, cl), tierpack.VerifyRequest{Ref: c.Args().First(), KeyFiles: c.StringSlice("key")})
		}),
	}
}

func promoteCommand() *cli.Command {
	return &cli.Command{
		Name:         "promote",
		BashComplete: completeRefs,
		Usage:        "move an artifact to another tier, with a signed promotion record",
		ArgsUsage:    "REF",
		Description: `Checks the tier policy for --to, writes a new manifest over the same blobs (nothing is
uploaded again) with the new tier, points REF's tag at it, signs it with --key, and
attaches a signed promotion record (who, when, from, to, reason, source digest) as an
OCI referrer. Moving down (a demotion) works the same way, and covers the content: every
manifest over the same blobs, older ones re-tagged included, is refused above the new tier
until a later record raises it. Say why with --reason-kind (security, deprecated, policy)
and --advisory: a refused pull shows them.

Falco's own artifacts (falcoctl's rulesfile, plugin and asset formats) get a tier the same
way, by a signed record alone: their content and format stay as falcoctl wrote them, and
what the tier's policy needs that they lack is given with --owner, --source-url,
--source-revision and --license, and signed into the record.

Every unmet requirement is listed at once, each with how to meet it.

EXAMPLES:
   tierpack promote localhost:5000/contrib/x:1.0.0 --to repository --key maintainer.key
   tierpack promote localhost:5000/contrib/x:1.0.0 --to official --key core.key --reason "security review #42"
   tierpack promote localhost:5000/contrib/x:1.0.0 --to contrib --key core.key --advisory CVE-2026-1234 --reason "remote code execution"
   tierpack promote localhost:5000/contrib/x:1.0.0 --to contrib --key core.key --reason-kind deprecated --reason "use y"`,
		Flags: append([]cli.Flag{
			option.Output(),
			&cli.StringFlag{Name: "to", Usage: "target `TIER`: contrib, repository, official", Required: true},
			&cli.StringFlag{Name: "key", Usage: "cosign private `KEY` that signs the promotion"},
			&cli.StringFlag{Name: "reason", Usage: "why, recorded in the promotion record"},
			&cli.StringFlag{Name: "reason-kind", Usage: "what kind of reason: security, deprecated or policy"},
			&cli.StringFlag{Name: "advisory", Usage: "the advisory `ID` behind it (CVE-2026-1234); implies --reason-kind security"},
			&cli.StringSliceFlag{Name: "owner", Usage: "for an artifact tierpack did not push (falcoctl's): a maintainer `HANDLE` who supports it (repeatable)"},
			&cli.StringFlag{Name: "source-url", Usage: "for an artifact tierpack did not push: its source repository `URL`"},
			&cli.StringFlag{Name: "source-revision", Usage: "for an artifact tierpack did not push: the released commit or tag"},
			&cli.StringFlag{Name: "license", Usage: "for an artifact tierpack did not push: its SPDX licence"},
			&cli.StringFlag{Name: "by", Usage: "who promotes, recorded in the record (default: $USER)"},
		}, option.Registry()...),
		Action: action(1, 1, "needs exactly one reference", func(c *cli.Context, cl *tierpack.Client) error {
			to, err := tier.Parse(c.String("to"))
			if err != nil {
				return usageError{err}
			}
			return run.Promote(envOf(c, cl), tierpack.PromoteRequest{Ref: c.Args().First(), To: to, Key: key(c), By: c.String("by"),
				Reason: c.String("reason"), ReasonKind: c.String("reason-kind"), Advisory: c.String("advisory"),
				Owners: c.StringSlice("owner"), SourceURL: c.String("source-url"), SourceRevision: c.String("source-revision"), License: c.String("license")})
		}),
	}
}

func copyCommand() *cli.Command {
	return &cli.Command{
		Name:         "copy",
		BashComplete: completeRefs,
		Usage:        "copy an artifact with its signatures, tier records and platforms to another target",
		ArgsUsage:    "SRC DST",
		Description: `Copies SRC to DST with everything that vouches for it: every referrer (Sigstore
signature bundles, tier records, attestations, recursively), cosign's legacy
sha256-<hex>.sig tags, and each platform manifest of an index — so DST verifies as SRC
does (tierpack pull DST --tier official --key core.pub). Any two targets: registries,
oci: layouts, the local store. Without a tag, DST takes SRC's; the tag is written last.

` + helpReferences + `

EXAMPLES:
   tierpack copy localhost:5000/scripts/x:1.2.0 ghcr.io/org/mirror/x
   tierpack copy falco-quickstart:0.1.0 oci:./export`,
		Flags: append([]cli.Flag{option.Output()}, option.Registry()...),
		Action: action(2, 2, "needs a source and a destination reference", func(c *cli.Context, cl *tierpack.Client) error {
			return run.Copy(envOf(c, cl), run.CopyOptions{Src: c.Args().Get(0), Dst: c.Args().Get(1)})
		}),
	}
}
