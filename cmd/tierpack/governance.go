package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/internal/prompt"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/tier"
	"github.com/tierpack/tierpack/pkg/tierpack"
)

const helpTrust = `TRUSTED KEYS:
   Signatures count only when made by a trusted key: the public keys given with --key,
   every *.pub in $TIERPACK_HOME/trusted-keys/, and the policy file's trustedKeys.
   Private keys are cosign's format; their password comes from $COSIGN_PASSWORD
   (or a prompt on a terminal).`

// keyPassword reads a private key's password: $COSIGN_PASSWORD, else a
// prompt when stdin is a terminal, else empty.
func keyPassword(c *cli.Context, confirm bool) ([]byte, error) {
	if v, ok := os.LookupEnv(sign.PasswordEnv); ok {
		return []byte(v), nil
	}
	p, err := prompt.Password(os.Stdin, c.App.ErrWriter, "Enter password for private key", confirm)
	if errors.Is(err, prompt.ErrNoTerminal) {
		return nil, nil
	}
	return p, err
}

// by is who signs, for tier records: --by, else the user's login name.
func by(c *cli.Context) string {
	if b := c.String("by"); b != "" {
		return b
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// key is the --key private key, its password from keyPassword.
func key(c *cli.Context) tierpack.Key {
	return tierpack.Key{File: c.String("key"), Password: func() ([]byte, error) { return keyPassword(c, false) }}
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
				&cli.BoolFlag{Name: "force", Usage: "overwrite existing key files"},
				&cli.BoolFlag{Name: "no-password", Usage: "write the private key with an empty password (anyone who reads the file can sign)"},
			},
			Action: action(0, 1, "takes at most one prefix", func(c *cli.Context, cl *tierpack.Client) error {
				prefix := c.Args().First()
				if prefix == "" {
					prefix = "cosign"
				}
				noPassword := c.Bool("no-password")
				if v := os.Getenv(sign.PasswordEnv); noPassword && v != "" {
					return usagef(c, "--no-password, but $%s is set: unset one of them", sign.PasswordEnv)
				}
				res, err := cl.GenerateKey(tierpack.KeyRequest{Prefix: prefix, Force: c.Bool("force"), NoPassword: noPassword,
					Password: func() ([]byte, error) { return keyPassword(c, true) }})
				if err == nil {
					note(c, "wrote %s (keep it secret) and %s (key %s)\n", res.PrivateKey, res.PublicKey, res.KeyID)
				}
				return err
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
		Flags: append([]cli.Flag{outputFlag(), &cli.StringFlag{Name: "key", Usage: "cosign private `KEY` file"}}, registryFlags()...),
		Action: action(1, 1, "needs exactly one reference", func(c *cli.Context, cl *tierpack.Client) error {
			res, err := cl.Sign(c.Context, tierpack.SignRequest{Ref: c.Args().First(), Key: key(c)})
			if err != nil {
				return err
			}
			if asJSON(c) {
				return printJSON(c, res)
			}
			if res.AlreadySigned {
				note(c, "%s (%s) is already signed by key %s\n", res.Reference, res.Digest, res.KeyID)
			} else {
				note(c, "signed %s (%s) with key %s\n", res.Reference, res.Digest, res.KeyID)
			}
			return nil
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
		Flags: append([]cli.Flag{outputFlag(), &cli.StringSliceFlag{Name: "key", Usage: "trusted public `KEY` file (repeatable)"}}, registryFlags()...),
		Action: action(1, 1, "needs exactly one reference", func(c *cli.Context, cl *tierpack.Client) error {
			res, err := cl.Verify(c.Context, tierpack.VerifyRequest{Ref: c.Args().First(), KeyFiles: c.StringSlice("key")})
			if err != nil {
				return err
			}
			if asJSON(c) {
				return printJSON(c, res)
			}
			note(c, "%s (%s): signed by trusted key %s (%s); tier %s\n", res.Reference, res.Digest, res.Verified.KeyID, res.Verified.KeySource, res.Verdict)
			return nil
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
OCI referrer. Moving down (deprecation) works the same way.

Every unmet requirement is listed at once, each with how to meet it.

EXAMPLES:
   tierpack promote localhost:5000/contrib/x:1.0.0 --to repository --key maintainer.key
   tierpack promote localhost:5000/contrib/x:1.0.0 --to official --key core.key --reason "security review #42"
   tierpack promote localhost:5000/contrib/x:1.0.0 --to contrib --key core.key --reason deprecated`,
		Flags: append([]cli.Flag{
			outputFlag(),
			&cli.StringFlag{Name: "to", Usage: "target `TIER`: contrib, repository, official", Required: true},
			&cli.StringFlag{Name: "key", Usage: "cosign private `KEY` that signs the promotion"},
			&cli.StringFlag{Name: "reason", Usage: "why, recorded in the promotion record"},
			&cli.StringFlag{Name: "by", Usage: "who promotes, recorded in the record (default: $USER)"},
		}, registryFlags()...),
		Action: action(1, 1, "needs exactly one reference", func(c *cli.Context, cl *tierpack.Client) error {
			to, err := tier.Parse(c.String("to"))
			if err != nil {
				return usageError{err}
			}
			res, err := cl.Promote(c.Context, tierpack.PromoteRequest{Ref: c.Args().First(), To: to, Key: key(c), By: by(c), Reason: c.String("reason")})
			if err != nil {
				return err
			}
			if asJSON(c) {
				return printJSON(c, res)
			}
			verb := "promoted"
			if res.To < res.From {
				verb = "demoted"
			}
			note(c, "%s %s from %s to %s: %s -> %s (signed; record %s)\n", verb, res.Reference, res.From, res.To, short(res.Source), short(res.Digest), short(res.Record))
			fmt.Fprintln(c.App.Writer, res.Digest)
			return nil
		}),
	}
}

func short(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
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
		Flags: append([]cli.Flag{outputFlag()}, registryFlags()...),
		Action: action(2, 2, "needs a source and a destination reference", func(c *cli.Context, cl *tierpack.Client) error {
			res, err := cl.Copy(c.Context, c.Args().Get(0), c.Args().Get(1))
			if err != nil {
				return err
			}
			return show(c, res, func() error {
				note(c, "copied %s to %s: %d platform manifest(s), %d referrer(s), %d cosign tag(s)\n", res.Source, res.Destination, res.Children, res.Referrers, len(res.LegacyTags))
				_, err := fmt.Fprintln(c.App.Writer, res.Destination+"@"+res.Digest)
				return err
			})
		}),
	}
}
