package main

import (
	"errors"
	"os"

	"github.com/urfave/cli/v2"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/tierpack/tierpack/cmd/tierpack/internal/option"
	"github.com/tierpack/tierpack/cmd/tierpack/internal/run"
	"github.com/tierpack/tierpack/internal/prompt"
	"github.com/tierpack/tierpack/pkg/tierpack"
)

func cacheCommand() *cli.Command {
	return &cli.Command{
		Name:  "cache",
		Usage: "show or empty the content-addressed cache of pulled and packaged blobs",
		Subcommands: []*cli.Command{
			{
				Name:  "info",
				Usage: "print where the cache is and how much it holds on disk",
				Flags: []cli.Flag{option.Output()},
				Action: action(0, 0, "takes no arguments", func(c *cli.Context, cl *tierpack.Client) error {
					return run.CacheInfo(envOf(c, cl))
				}),
			},
			{
				Name:  "clean",
				Usage: "delete the cache (it refills on the next pull or push)",
				Flags: []cli.Flag{option.Output()},
				Action: action(0, 0, "takes no arguments", func(c *cli.Context, cl *tierpack.Client) error {
					return run.CacheClean(envOf(c, cl))
				}),
			},
		},
	}
}

func loginCommand() *cli.Command {
	return &cli.Command{
		Name:      "login",
		Usage:     "log in to a registry (shares credentials with docker and oras)",
		ArgsUsage: "REGISTRY",
		Description: `Checks the credentials against REGISTRY and saves them in Docker's config
($DOCKER_CONFIG/config.json or ~/.docker/config.json, or the --registry-config file),
through its credential helper when one is configured — so docker login, oras login and
tierpack login interoperate. Nothing is saved when the registry refuses them.

On a terminal, tierpack asks for what is missing (the password is not echoed); from a
script, pipe the password to --password-stdin. A TLS registry with a private CA takes
--ca-file (or ca-file in $TIERPACK_HOME/registries.yaml, see tierpack --help).

EXAMPLES:
   echo "$TOKEN" | tierpack login ghcr.io -u my-user --password-stdin
   tierpack login localhost:5000 -u admin          # asks for the password
   tierpack login 127.0.0.1:5443 -u admin --ca-file ca.pem --password-stdin < pw.txt`,
		Flags: append([]cli.Flag{
			option.Output(),
			&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Usage: "`USER` name (asked for on a terminal when missing)"},
			&cli.StringFlag{Name: "password", Aliases: []string{"p"}, Usage: "`PASSWORD` (prefer --password-stdin or the prompt: flags show up in ps)"},
			&cli.BoolFlag{Name: "password-stdin", Usage: "read the password from standard input"},
		}, option.Connection()...),
		Action: action(1, 1, "needs exactly one registry, e.g. ghcr.io", func(c *cli.Context, cl *tierpack.Client) error {
			host := c.Args().First()
			user := c.String("username")
			if user == "" {
				if c.Bool("password-stdin") {
					return usagef(c, "--password-stdin needs --username (-u): standard input holds the password")
				}
				var err error
				if user, err = askUsername(c, host); err != nil {
					return err
				}
			}
			cn := connection(c)
			cn.Username, cn.Password, cn.PasswordStdin = user, c.String("password"), c.Bool("password-stdin")
			pass, err := cn.PasswordOf(host)
			if err != nil {
				return err
			}
			return run.Login(envOf(c, cl), run.LoginOptions{Host: host, Credential: auth.Credential{Username: user, Password: pass}})
		}),
	}
}

// askUsername asks for a user name on the terminal (echoed, as Docker
// does); without a terminal it is a usage error.
func askUsername(c *cli.Context, host string) (string, error) {
	user, err := prompt.Line(os.Stdin, c.App.ErrWriter, "Username for "+host)
	switch {
	case errors.Is(err, prompt.ErrNoTerminal):
		return "", usagef(c, "needs --username (-u) and a password (--password-stdin); on a terminal tierpack asks for both")
	case err != nil:
		return "", err
	case user == "":
		return "", usagef(c, "the user name is empty")
	}
	return user, nil
}

func logoutCommand() *cli.Command {
	return &cli.Command{
		Name:      "logout",
		Usage:     "forget the credentials for a registry",
		ArgsUsage: "REGISTRY",
		Flags:     []cli.Flag{option.Output(), &cli.StringFlag{Name: "registry-config", Usage: "credentials `FILE` in Docker's config.json format, instead of Docker's"}},
		Action: action(1, 1, "needs exactly one registry, e.g. ghcr.io", func(c *cli.Context, cl *tierpack.Client) error {
			return run.Logout(envOf(c, cl), c.Args().First())
		}),
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print tierpack's version, plugin protocol and Go version",
		Flags: []cli.Flag{option.Output()},
		Action: action(0, 0, "takes no arguments", func(c *cli.Context, _ *tierpack.Client) error {
			return run.Version(envOf(c, nil))
		}),
	}
}

func storeCommand() *cli.Command {
	return &cli.Command{Name: "store", Usage: "check or repair the local store or an OCI layout", Subcommands: []*cli.Command{{
		Name: "check", Usage: "check index.json against the blobs; --repair rebuilds a damaged one", ArgsUsage: "[oci:PATH]",
		Description: `No argument: the local store. Sound: exit 0; damaged: exit 1, listing what --repair restores:
every manifest and referrer among the blobs, each tag on unambiguous evidence (the tag journal, else
name and version with the latest trusted record choosing), never an older manifest for a lost one.`,
		Flags: []cli.Flag{option.Output(), &cli.BoolFlag{Name: "repair", Usage: "rewrite a damaged index.json"}, &cli.StringSliceFlag{Name: "key", Usage: "trusted public `KEY` (repeatable)"}},
		Action: action(0, 1, "takes at most one OCI layout, oci:PATH", func(c *cli.Context, cl *tierpack.Client) error {
			return run.StoreCheck(envOf(c, cl), tierpack.StoreCheckRequest{Layout: c.Args().First(), Repair: c.Bool("repair"), KeyFiles: c.StringSlice("key")})
		}),
	}}}
}
