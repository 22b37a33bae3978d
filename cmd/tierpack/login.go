package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/tierpack/tierpack/pkg/target"
)

func loginCommand() *cli.Command {
	return &cli.Command{
		Name:      "login",
		Usage:     "log in to a registry (shares credentials with docker and oras)",
		ArgsUsage: "REGISTRY",
		Description: `Checks the credentials against REGISTRY and saves them in Docker's config
($DOCKER_CONFIG/config.json or ~/.docker/config.json), through its credential helper
when one is configured — so docker login, oras login and tierpack login interoperate.

EXAMPLES:
   echo "$TOKEN" | tierpack login ghcr.io -u my-user --password-stdin
   tierpack login localhost:5000 -u admin -p secret`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Usage: "`USER` name"},
			&cli.StringFlag{Name: "password", Aliases: []string{"p"}, Usage: "`PASSWORD` (prefer --password-stdin: flags show up in ps)"},
			&cli.BoolFlag{Name: "password-stdin", Usage: "read the password from standard input"},
		}, registryFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef(c, "needs exactly one registry, e.g. ghcr.io")
			}
			host := c.Args().First()
			user, pass := c.String("username"), c.String("password")
			if c.Bool("password-stdin") {
				if pass != "" {
					return usagef(c, "use either --password or --password-stdin")
				}
				b, err := io.ReadAll(bufio.NewReader(os.Stdin))
				if err != nil {
					return err
				}
				pass = strings.TrimRight(string(b), "\r\n")
			}
			if user == "" || pass == "" {
				return usagef(c, "needs --username and a password (--password-stdin)")
			}
			reg, err := remote.NewRegistry(host)
			if err != nil {
				return usageError{fmt.Errorf("%q is not a registry host: %w", host, err)}
			}
			reg.PlainHTTP = c.Bool("plain-http") || (!c.Bool("force-tls") && target.IsLoopback(host))
			reg.Client = &auth.Client{Client: retry.DefaultClient, Cache: auth.NewCache()}
			store, err := target.DefaultCredentials()
			if err != nil {
				return err
			}
			if err := credentials.Login(c.Context, store, reg, auth.Credential{Username: user, Password: pass}); err != nil {
				return fmt.Errorf("logging in to %s: %w", host, err)
			}
			note(c, "logged in to %s as %s\n", host, user)
			return nil
		},
	}
}

func logoutCommand() *cli.Command {
	return &cli.Command{
		Name:      "logout",
		Usage:     "forget the credentials for a registry",
		ArgsUsage: "REGISTRY",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef(c, "needs exactly one registry, e.g. ghcr.io")
			}
			store, err := target.DefaultCredentials()
			if err != nil {
				return err
			}
			if err := credentials.Logout(c.Context, store, c.Args().First()); err != nil {
				return fmt.Errorf("logging out of %s: %w", c.Args().First(), err)
			}
			note(c, "logged out of %s\n", c.Args().First())
			return nil
		},
	}
}
