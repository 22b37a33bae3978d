package tierpack

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/tierpack/tierpack/pkg/target"
)

// Connection is how one command reaches registries, as its command line
// gave it: TLS settings for every registry, and optionally credentials for
// the one registry its arguments name. Options decides what they mean.
type Connection struct {
	PlainHTTP bool
	// NoPlainHTTP is --plain-http=false given explicitly: the same as ForceTLS.
	NoPlainHTTP                               bool
	ForceTLS, Insecure                        bool
	CAFile, CertFile, KeyFile, RegistryConfig string
	// Username, with Password or PasswordStdin, are this command's
	// credentials; they apply to the one registry Args name.
	Username, Password string
	PasswordStdin      bool
	// Args are the command's arguments.
	Args []string
	// Stdin is read for PasswordStdin.
	Stdin io.Reader
	// Ask asks a person for a missing password; it returns ErrNoPrompt when
	// no one can be asked (no terminal).
	Ask func(label string) (string, error)
	// Warn tells the user about something risky they asked for (--insecure).
	Warn func(format string, args ...any)
}

// ErrNoPrompt is what Connection.Ask returns when it cannot ask.
var ErrNoPrompt = fmt.Errorf("no terminal to ask on")

// Options turns the connection into target options, refusing settings that
// exclude each other and reading the password -u needs.
func (cn Connection) Options() (target.Options, error) {
	o := target.Options{
		PlainHTTP:      cn.PlainHTTP,
		ForceTLS:       cn.ForceTLS || cn.NoPlainHTTP,
		CAFile:         cn.CAFile,
		Insecure:       cn.Insecure,
		CertFile:       cn.CertFile,
		KeyFile:        cn.KeyFile,
		RegistryConfig: cn.RegistryConfig,
		Warn:           cn.Warn,
	}
	switch {
	case (o.CertFile == "") != (o.KeyFile == ""):
		return o, usagef("{CertFile} and {KeyFile} go together (a client certificate and its key)")
	case o.PlainHTTP && (o.ForceTLS || o.CAFile != "" || o.Insecure || o.CertFile != ""):
		return o, usagef("{PlainHTTP} excludes {ForceTLS}, {CAFile}, {Insecure} and {CertFile}")
	}
	if cn.Username == "" {
		if cn.Password != "" || cn.PasswordStdin {
			return o, usagef("a password needs {Username}")
		}
		return o, nil
	}
	var hosts []string
	for _, a := range cn.Args {
		if r, err := target.Parse(a); err == nil && r.Kind == target.Remote && !slices.Contains(hosts, r.Registry) {
			hosts = append(hosts, r.Registry)
		}
	}
	if len(hosts) != 1 {
		return o, usagef("{Username} gives the password of the one registry named on the command line, and it names %d "+
			"(save credentials for each registry with `tierpack login HOST -u USER` instead)", len(hosts))
	}
	pass, err := cn.PasswordOf(hosts[0])
	if err != nil {
		return o, err
	}
	o.Credential = auth.Credential{Username: cn.Username, Password: pass}
	o.CredentialHosts = hosts
	return o, nil
}

// PasswordOf is the password of Username at host: Password, else read from
// Stdin with PasswordStdin, else asked.
func (cn Connection) PasswordOf(host string) (string, error) {
	pass := cn.Password
	switch {
	case cn.PasswordStdin && pass != "":
		return "", usagef("use either {Password} or {PasswordStdin}")
	case cn.PasswordStdin:
		b, err := io.ReadAll(cn.Stdin)
		if err != nil {
			return "", fmt.Errorf("reading the password from standard input: %w", err)
		}
		if pass = strings.TrimRight(string(b), "\r\n"); pass == "" {
			return "", usagef("{PasswordStdin} read an empty password")
		}
	case pass == "":
		if cn.Ask == nil {
			return "", usagef("needs the password of %s: pipe it to {PasswordStdin} (on a terminal tierpack asks for it)", cn.Username)
		}
		p, err := cn.Ask(fmt.Sprintf("Password for %s at %s", cn.Username, host))
		if err == ErrNoPrompt {
			return "", usagef("needs the password of %s: pipe it to {PasswordStdin} (on a terminal tierpack asks for it)", cn.Username)
		}
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		if pass = p; pass == "" {
			return "", usagef("the password is empty")
		}
	}
	return pass, nil
}
