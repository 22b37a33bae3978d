// Package option holds the flags several commands share — the output
// format, the registry connection and credentials — as ORAS keeps its
// internal/option: one definition, one help text.
package option

import "github.com/urfave/cli/v2"

// Output is the --output flag shared by every command that prints data.
func Output() cli.Flag {
	return &cli.StringFlag{Name: "output", Value: "text", Usage: "output `FORMAT`: text or json (json goes to stdout, one document)"}
}

// Registry is the flags of every command that talks to a registry:
// Connection and one command's credentials.
func Registry() []cli.Flag {
	return append(Connection(), inCategory("REGISTRY CONNECTION", []cli.Flag{
		&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Usage: "registry `USER` for this command only (asks for the password on a terminal; tierpack login saves credentials)"},
		&cli.StringFlag{Name: "password", Aliases: []string{"p"}, Usage: "registry `PASSWORD` for this command (prefer --password-stdin: flags show up in ps)"},
		&cli.BoolFlag{Name: "password-stdin", Usage: "read the registry password for this command from standard input"},
	})...)
}

// Connection is how to reach registries and where credentials are
// saved; they override $TIERPACK_HOME/registries.yaml.
func Connection() []cli.Flag {
	return inCategory("REGISTRY CONNECTION", []cli.Flag{
		&cli.BoolFlag{Name: "plain-http", Usage: "talk plain HTTP to the registry (loopback hosts without TLS settings in registries.yaml get it anyway)"},
		&cli.BoolFlag{Name: "force-tls", Usage: "use HTTPS even for a loopback registry (same as --plain-http=false)"},
		&cli.StringFlag{Name: "ca-file", Usage: "trust the certificate authorities in PEM `FILE` for the registry's certificate (implies HTTPS)"},
		&cli.BoolFlag{Name: "insecure", Usage: "HTTPS without verifying the registry's certificate: for tests only (warned about)"},
		&cli.StringFlag{Name: "cert-file", Usage: "TLS client certificate PEM `FILE` for registries that require mutual TLS (with --key-file)"},
		&cli.StringFlag{Name: "key-file", Usage: "TLS client private key PEM `FILE` of --cert-file (a signing key is --key)"},
		&cli.StringFlag{Name: "registry-config", Usage: "credentials `FILE` in Docker's config.json format, instead of Docker's (like oras --registry-config)"},
		&cli.BoolFlag{Name: "trust-mirror", Usage: "when a registry cannot be reached, accept its mirror's tier records and signatures (a mirror could withhold a demotion, so without this its tiers are undecided: exit 4)"},
	})
}

// inCategory files flags under a heading of --help, apart from the
// command's own (--key-file, a TLS key, from --key, a signing key).
func inCategory(cat string, flags []cli.Flag) []cli.Flag {
	for _, f := range flags {
		switch f := f.(type) {
		case *cli.StringFlag:
			f.Category = cat
		case *cli.BoolFlag:
			f.Category = cat
		}
	}
	return flags
}
