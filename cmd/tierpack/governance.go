package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/policy"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/tier"
)

const helpTrust = `TRUSTED KEYS:
   Signatures count only when made by a trusted key: the public keys given with --key,
   every *.pub in $TIERPACK_HOME/trusted-keys/, and the policy file's trustedKeys.
   Private keys are cosign's format; their password comes from $COSIGN_PASSWORD
   (or a prompt on a terminal).`

// loadPolicy reads --policy, $TIERPACK_POLICY or $TIERPACK_HOME/policy.yaml,
// falling back to the built-in defaults.
func loadPolicy(c *cli.Context) (policy.Policy, error) {
	path := c.String("policy")
	if path == "" {
		if d, err := target.DataDir(); err == nil {
			if p := filepath.Join(d, "policy.yaml"); fileExists(p) {
				path = p
			}
		}
	}
	if path == "" {
		return policy.Default(), nil
	}
	return policy.Load(path)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// trust loads the policy and the trusted keys, which every command that
// checks tiers or signatures needs together.
func trust(c *cli.Context) (policy.Policy, []sign.PublicKey, error) {
	pol, err := loadPolicy(c)
	if err != nil {
		return pol, nil, err
	}
	keys, err := trustedKeys(c, pol)
	return pol, keys, err
}

// trustedKeys gathers the public keys signatures are checked against.
func trustedKeys(c *cli.Context, pol policy.Policy) ([]sign.PublicKey, error) {
	paths := append([]string{}, c.StringSlice("key")...)
	paths = append(paths, pol.TrustedKeys...)
	if d, err := target.DataDir(); err == nil {
		matches, _ := filepath.Glob(filepath.Join(d, "trusted-keys", "*.pub"))
		paths = append(paths, matches...)
	}
	var keys []sign.PublicKey
	for _, p := range paths {
		k, err := sign.LoadPublicKeyFile(p)
		if err != nil {
			return nil, usageError{err}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// keyPassword reads a private key's password: $COSIGN_PASSWORD, else a
// prompt when stdin is a terminal, else empty.
func keyPassword(c *cli.Context, confirm bool) ([]byte, error) {
	if v, ok := os.LookupEnv(sign.PasswordEnv); ok {
		return []byte(v), nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, nil
	}
	fmt.Fprint(c.App.ErrWriter, "Enter password for private key: ")
	p, err := term.ReadPassword(fd)
	fmt.Fprintln(c.App.ErrWriter)
	if err != nil {
		return nil, err
	}
	if confirm {
		fmt.Fprint(c.App.ErrWriter, "Enter password for private key again: ")
		again, err := term.ReadPassword(fd)
		fmt.Fprintln(c.App.ErrWriter)
		if err != nil {
			return nil, err
		}
		if string(again) != string(p) {
			return nil, errors.New("the passwords do not match")
		}
	}
	return p, nil
}

func loadSigner(c *cli.Context, path string) (signature.SignerVerifier, error) {
	if path == "" {
		return nil, usagef(c, "needs --key PRIVATE-KEY (create one with `tierpack key generate`)")
	}
	pw, err := keyPassword(c, false)
	if err != nil {
		return nil, err
	}
	return sign.LoadPrivateKeyFile(path, pw)
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
with the password from $COSIGN_PASSWORD (or a prompt). PREFIX defaults to "cosign".

EXAMPLES:
   COSIGN_PASSWORD=... tierpack key generate maintainer
   cp maintainer.pub $TIERPACK_HOME/trusted-keys/      # trust it for pulls`,
			Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Usage: "overwrite existing key files"}},
			Action: func(c *cli.Context) error {
				if c.NArg() > 1 {
					return usagef(c, "takes at most one prefix")
				}
				prefix := c.Args().First()
				if prefix == "" {
					prefix = "cosign"
				}
				privPath, pubPath := prefix+".key", prefix+".pub"
				if !c.Bool("force") {
					for _, p := range []string{privPath, pubPath} {
						if fileExists(p) {
							return fmt.Errorf("%s exists; pass --force to overwrite it", p)
						}
					}
				}
				pw, err := keyPassword(c, true)
				if err != nil {
					return err
				}
				priv, pub, err := sign.GenerateKeyPair(pw)
				if err != nil {
					return err
				}
				if err := os.WriteFile(privPath, priv, 0o600); err != nil {
					return err
				}
				if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
					return err
				}
				k, err := sign.LoadPublicKey(pub, pubPath)
				if err != nil {
					return err
				}
				note(c, "wrote %s (keep it secret) and %s (key %s)\n", privPath, pubPath, k.ID)
				return nil
			},
		}},
	}
}

func signCommand() *cli.Command {
	return &cli.Command{
		Name:      "sign",
		Usage:     "sign an artifact with a cosign key",
		ArgsUsage: "REF",
		Description: `Signs the manifest REF resolves to and stores the signature as cosign does (tag
sha256-<hex>.sig beside it), so cosign verify --key accepts it.

EXAMPLES:
   tierpack sign localhost:5000/contrib/x:1.0.0 --key maintainer.key
   cosign verify --key maintainer.pub --insecure-ignore-tlog=true --allow-http-registry localhost:5000/contrib/x:1.0.0`,
		Flags: append([]cli.Flag{outputFlag(), &cli.StringFlag{Name: "key", Usage: "cosign private `KEY` file"}}, registryFlags()...),
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return usagef(c, "needs exactly one reference")
			}
			signer, err := loadSigner(c, c.String("key"))
			if err != nil {
				return err
			}
			t, info, err := resolveRef(c, c.Args().First(), false)
			if err != nil {
				return err
			}
			defer t.Close()
			d, err := sign.Sign(c.Context, t.Store, artifact.Identity(t.Ref), info.Root(), signer)
			if err != nil {
				return err
			}
			keyID, _ := sign.SignerKeyID(signer)
			if asJSON {
				return printJSON(c.App.Writer, map[string]any{"reference": t.Ref.String(), "digest": info.Digest, "signatureManifest": d.Digest.String(), "keyID": keyID, "alreadySigned": d.Digest == ""})
			}
			if d.Digest == "" {
				note(c, "%s (%s) is already signed by key %s\n", t.Ref, info.Digest, keyID)
			} else {
				note(c, "signed %s (%s) with key %s\n", t.Ref, info.Digest, keyID)
			}
			return nil
		},
	}
}

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check an artifact's cosign signature against trusted keys",
		ArgsUsage: "REF",
		Description: `Exits 0 when the manifest REF resolves to carries a valid signature by a trusted key,
and 4 otherwise, saying what is wrong (no signature, untrusted key).

` + helpTrust + `

EXAMPLES:
   tierpack verify localhost:5000/contrib/x:1.0.0 --key maintainer.pub`,
		Flags: append([]cli.Flag{outputFlag(), &cli.StringSliceFlag{Name: "key", Usage: "trusted public `KEY` file (repeatable)"}}, registryFlags()...),
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return usagef(c, "needs exactly one reference")
			}
			_, keys, err := trust(c)
			if err != nil {
				return err
			}
			t, info, err := resolveRef(c, c.Args().First(), true)
			if err != nil {
				return err
			}
			defer t.Close()
			v, err := sign.Verify(c.Context, t.Store, info.Root().Digest, keys)
			if err != nil {
				return verificationError{err}
			}
			if asJSON {
				return printJSON(c.App.Writer, map[string]any{"reference": t.Ref.String(), "digest": info.Digest, "verified": v})
			}
			note(c, "%s (%s): signed by trusted key %s (%s)\n", t.Ref, info.Digest, v.KeyID, v.KeySource)
			return nil
		},
	}
}

// verificationError marks a failed signature check (exit code 4).
type verificationError struct{ error }

func (v verificationError) Unwrap() error { return v.error }

func promoteCommand() *cli.Command {
	return &cli.Command{
		Name:      "promote",
		Usage:     "move an artifact to another tier, with a signed promotion record",
		ArgsUsage: "REF",
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
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return usagef(c, "needs exactly one reference")
			}
			to, err := tier.Parse(c.String("to"))
			if err != nil {
				return usageError{err}
			}
			pol, err := loadPolicy(c)
			if err != nil {
				return err
			}
			signer, err := loadSigner(c, c.String("key"))
			if err != nil {
				return err
			}
			by := c.String("by")
			if by == "" {
				if u, err := user.Current(); err == nil {
					by = u.Username
				}
			}
			t, err := openRef(c, c.Args().First(), false)
			if err != nil {
				return err
			}
			defer t.Close()
			res, err := artifact.Promote(c.Context, t, artifact.PromoteOptions{
				To: to, Signer: signer, By: by, Reason: c.String("reason"), Policy: pol, Tool: "tierpack/" + tierpackVersion(),
			})
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(c.App.Writer, res)
			}
			verb := "promoted"
			if res.To < res.From {
				verb = "demoted"
			}
			note(c, "%s %s from %s to %s: %s -> %s (signed; record %s)\n", verb, t.Ref, res.From, res.To, short(res.Source), short(res.Digest), short(res.Record))
			fmt.Fprintln(c.App.Writer, res.Digest)
			return nil
		},
	}
}

func short(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}

// governanceReport is what inspect shows about signatures and promotions.
type governanceReport struct {
	Signatures []signatureReport  `json:"signatures"`
	Promotions []promotion.Signed `json:"promotions"`
}

type signatureReport struct {
	Identity string `json:"identity"`
	Digest   string `json:"digest"`
	// TrustedKey is the trusted key that made it, empty when none did.
	TrustedKey string `json:"trustedKey,omitempty"`
}
