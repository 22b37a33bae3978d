package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/tierpack/tierpack/cmd/tierpack/internal/display"
	"github.com/tierpack/tierpack/cmd/tierpack/internal/run"
	"github.com/tierpack/tierpack/internal/prompt"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/progress"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk/host"
)

const helpExitCodes = `EXIT CODES:
   0    success
   1    error not covered below
   2    usage error (unknown flag, missing argument)
   3    the contribution failed validation
   4    refused by tier: the artifact is below --tier, the tier's requirements are unmet,
        or a signature or promotion record is missing, untrusted or for another digest;
        or a plugin is not signed by a key trusted for plugins
   5    not found: no such artifact, tag, or plugin for the type
   6    the registry refused the credentials (run tierpack login)
   7    a plugin crashed, hung, is not a tierpack plugin, no longer matches its pin,
        failed tierpack plugin check, wrote what a pull refuses (a link out of its
        output, a special file, a setuid or world-writable file), sent a reply over
        64 MiB or a manifest no pull could read, or could not be confined as required
   8    a pulled artifact's content was refused: an unsafe entry (path traversal, escaping
        symlink, device, sparse file), a corrupt or mislabelled layer, or more than the
        --max-size, --max-file-size or --max-entries limits of tierpack pull
   130  interrupted`

const helpReferences = `REFERENCES:
   NAME[:TAG]                  the local store, no server needed (e.g. falco-quickstart:0.1.0)
   oci:PATH[:TAG]              an OCI image layout folder
   HOST[:PORT]/REPO[:TAG]      a registry (e.g. ghcr.io/org/contrib/falco-quickstart:0.1.0)
   Any of them may end in @sha256:DIGEST instead of :TAG.`

func newApp() *cli.App {
	app := &cli.App{
		Name:    "tierpack",
		Usage:   "publish and pull tiered community contributions as OCI artifacts",
		Version: tierpack.Version(),
		Description: `tierpack packages contributions — scripts, Helm charts, exporters, and any type a
plugin adds — as OCI artifacts stamped with their support tier, and moves them through
any OCI registry or a local store:

   contrib      use at your own risk: scripts, YAML, markdown
   repository   its own repository, a build and a release, an OWNERS file
   official     released and supported by core maintainers

Start with:
   tierpack init --type script ./my-script      create a contribution
   tierpack validate ./my-script                check it
   tierpack push ./my-script my-script          store it locally (or push HOST/REPO:TAG)
   tierpack pull my-script:0.1.0 --tier contrib fetch it back

` + helpReferences + `

ENVIRONMENT:
   TIERPACK_HOME          data folder (local store, plugins); default ~/.local/share/tierpack
   TIERPACK_PLUGINS_DIR   an extra folder searched for tierpack-plugin-<type> binaries
   DOCKER_CONFIG          where registry credentials live (shared with docker and oras;
                          --registry-config FILE for one command)
   SOURCE_DATE_EPOCH      timestamp for org.opencontainers.image.created (else omitted,
                          so the same content always gives the same digest)
   COSIGN_PASSWORD        password of cosign private keys (key generate, sign, promote, push)
   TIERPACK_SIGNING_KEY   the key push and package sign with (also --key), e.g. in CI
   TIERPACK_POLICY        tier policy file (also --policy; default $TIERPACK_HOME/policy.yaml)
   TIERPACK_STALL_TIMEOUT cut a registry connection silent this long (default 60s)
   TIERPACK_LOG_LEVEL, TIERPACK_PLUGIN_TIMEOUT, TIERPACK_QUIET, TIERPACK_NO_CACHE
                          defaults for --log-level, --plugin-timeout, --quiet, --no-cache

FILES:
   $TIERPACK_HOME/registries.yaml   how to talk to each registry, so flags need not be
                          repeated (--plain-http, --force-tls, --ca-file, --insecure and
                          --cert-file/--key-file override it for the registries of one command):
       registries:
         127.0.0.1:5443:            # HOST[:PORT], as written in references
           ca-file: ca.pem          # trust this CA too (paths relative to this file)
           cert-file: client.pem    # client certificate, for mutual TLS...
           key-file: client.key     # ...and its key
           insecure: false          # true: TLS without verifying the certificate (warned)
           plain-http: false        # true: no TLS (the default only for loopback hosts
                                    # without TLS settings)
           mirror: HOST[:PORT]      # read this registry's repositories from there (and
                                    # from the registry itself when the mirror cannot
                                    # serve a reference); pushes go to the registry itself
   $DOCKER_CONFIG/config.json       registry credentials (tierpack login; --registry-config
                          FILE uses another file in the same format)
   $TIERPACK_HOME/records/          the signed demotions seen, kept so that one deleted
                          from a registry still counts (do not clean it)

` + helpExitCodes,
		EnableBashCompletion:   true,
		HideHelpCommand:        true,
		Suggest:                true,
		UseShortOptionHandling: false,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "log `LEVEL` for tierpack and its plugins: debug, info, warn, error", EnvVars: []string{"TIERPACK_LOG_LEVEL"}},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only errors and requested data: no progress, no status lines", EnvVars: []string{"TIERPACK_QUIET"}},
			&cli.BoolFlag{Name: "no-cache", Usage: "pull straight from the registry, bypassing $TIERPACK_HOME/cache", EnvVars: []string{"TIERPACK_NO_CACHE"}},
			&cli.StringFlag{Name: "policy", Usage: "tier policy `FILE` (default $TIERPACK_HOME/policy.yaml, else built-in)", EnvVars: []string{"TIERPACK_POLICY"}},
			&cli.DurationFlag{Name: "plugin-timeout", Value: host.DefaultCallTimeout, Usage: "stop a plugin that takes longer than `DURATION` for one call", EnvVars: []string{"TIERPACK_PLUGIN_TIMEOUT"}},
			&cli.BoolFlag{Name: "require-sandbox", Usage: "refuse third-party plugins this system cannot confine (no Landlock)", EnvVars: []string{"TIERPACK_REQUIRE_SANDBOX"}},
			&cli.DurationFlag{Name: "timeout", DefaultText: "no limit", Usage: "give up on the whole command after `DURATION` (e.g. 10m)", EnvVars: []string{"TIERPACK_TIMEOUT"}},
		},
		Commands: []*cli.Command{
			initCommand(), validateCommand(), packageCommand(), pushCommand(), pullCommand(), inspectCommand(),
			searchCommand(), listCommand(), indexCommand(), promoteCommand(), resignCommand(), signCommand(), verifyCommand(), copyCommand(),
			keyCommand(), cacheCommand(), pluginCommand(), loginCommand(), logoutCommand(), versionCommand(),
			tagsCommand(), completionCommand(), catalogCommand(), storeCommand(),
			installCommand(), installedCommand(), updateCommand(), followCommand(), auditCommand(), uninstallCommand(), mirrorCommand(),
		},
		OnUsageError:   onUsageError,
		Before:         before,
		ExitErrHandler: func(*cli.Context, error) {}, // runMain reports errors
	}
	for _, c := range app.Commands {
		setUsageError(c)
	}
	return app
}

func setUsageError(c *cli.Command) {
	c.OnUsageError = onUsageError
	if c.BashComplete == nil {
		c.BashComplete = completeArgs
	}
	for _, s := range c.Subcommands {
		setUsageError(s)
	}
}

// onUsageError reports a command line urfave/cli could not parse; an
// unknown flag gets the closest one, in the double-dash form.
func onUsageError(c *cli.Context, err error, _ bool) error {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -")
	if !ok {
		return usageError{err}
	}
	name = strings.TrimLeft(name, "-")
	flags := c.App.Flags
	if c.Command != nil {
		flags = append(append([]cli.Flag{}, c.Command.Flags...), flags...)
	}
	if s := cli.SuggestFlag(flags, name, true); s != "" {
		return usagef(c, "unknown flag --%s: did you mean --%s?", name, strings.TrimLeft(s, "-"))
	}
	return usagef(c, "unknown flag --%s", name)
}

type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// usagef reports a usage problem with a command's arguments.
func usagef(c *cli.Context, format string, args ...any) error {
	name := commandPath(c)
	if name == "" {
		return usageError{fmt.Errorf("%s (see `tierpack --help`)", fmt.Sprintf(format, args...))}
	}
	return usageError{fmt.Errorf("%s: %s (see `tierpack %s --help`)", name, fmt.Sprintf(format, args...), name)}
}

// commandPath names the running command with its parents ("plugin
// install"): urfave/cli's FullName leaves the parents out.
func commandPath(c *cli.Context) string {
	var names []string
	for _, ctx := range c.Lineage() {
		if ctx.Command != nil && ctx.Command.Name != "" && ctx.Command.Name != c.App.Name {
			names = append([]string{ctx.Command.Name}, names...)
		}
	}
	return strings.Join(names, " ")
}

// exitCode maps an error to the documented exit codes: the use cases'
// classes (tierpack.CodeOf), and the command line's own usage errors.
func exitCode(err error, interrupted bool) int {
	var ue usageError
	var ec cli.ExitCoder
	switch {
	case err == nil:
		return 0
	case interrupted:
		return int(tierpack.CodeInterrupted)
	case errors.As(err, &ue), strings.HasPrefix(err.Error(), "Required flag"), strings.HasPrefix(err.Error(), "No help topic for"):
		return int(tierpack.CodeUsage)
	case tierpack.CodeOf(err) == tierpack.CodeError && errors.As(err, &ec):
		return ec.ExitCode()
	}
	return int(tierpack.CodeOf(err))
}

// reportError prints err for humans on stderr (and as JSON on stdout when
// --output json was asked for) and returns the exit code.
func reportError(app *cli.App, err error, interrupted bool) int {
	code := exitCode(err, interrupted)
	if err == nil {
		return code
	}
	var ec cli.ExitCoder
	msg := err.Error()
	if errors.As(err, &ec) && msg == "" {
		return code
	}
	msg = display.Message(err)
	if rest, ok := strings.CutPrefix(msg, "No help topic for "); ok {
		msg = "unknown command " + rest + " (run `tierpack --help` for the list)"
	}
	if code == int(tierpack.CodeInterrupted) {
		msg = "interrupted; nothing was left half-written"
	}
	if code == int(tierpack.CodeAuth) && !strings.Contains(msg, "tierpack login") {
		msg += "\n  (log in with `tierpack login REGISTRY`, or check the credentials in your Docker config)"
	}
	display.New(app.Writer, app.ErrWriter, false, false).Error(msg)
	if o := outputOf(app); (o.json || jsonAsked(os.Args)) && !o.printed {
		_ = json.NewEncoder(app.Writer).Encode(map[string]any{"error": msg, "exitCode": code})
	}
	return code
}

// jsonAsked reports whether args ask for --output json, for errors raised
// before the command parsed its flags (an unknown flag, a missing argument).
func jsonAsked(args []string) bool {
	for i, a := range args {
		if a == "--output=json" || (a == "--output" && i+1 < len(args) && args[i+1] == "json") {
			return true
		}
	}
	return false
}

// output is one invocation's output state: whether --output json was
// asked for (so errors are reported in JSON too) and whether the command
// has printed its JSON document (so an error after it adds no second one).
type output struct{ json, printed bool }

func outputOf(app *cli.App) *output {
	o, _ := app.Metadata["output"].(*output)
	if o == nil {
		o = &output{}
		if app.Metadata == nil {
			app.Metadata = map[string]any{}
		}
		app.Metadata["output"] = o
	}
	return o
}

func wantJSON(c *cli.Context) (bool, error) {
	switch o := c.String("output"); o {
	case "json":
		outputOf(c.App).json = true
		return true, nil
	case "text", "":
		return false, nil
	default:
		return false, usagef(c, "--output %q: --output is the format, text or json; the destination is -o", o)
	}
}

// printJSON prints the command's one JSON document.
func printJSON(c *cli.Context, v any) error {
	outputOf(c.App).printed = true
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// client maps the global and registry flags and the environment to the
// use-case layer's Client.
func client(c *cli.Context) (*tierpack.Client, error) {
	topts, err := targetOptions(c)
	if err != nil {
		return nil, err
	}
	cl := &tierpack.Client{
		Target:          topts,
		Builtins:        builtinTypes(),
		Companions:      companionTypes(),
		HostUnpack:      hostUnpack(),
		HostFormats:     hostFormats(),
		HostInstallDirs: hostInstallDirs(),
		PluginTimeout:   c.Duration("plugin-timeout"),
		RequireSandbox:  c.Bool("require-sandbox"),
		LogLevel:        c.String("log-level"),
		LogOutput:       disp(c).Err(),
		Warn:            func(msg string) { disp(c).Warnf("%s", msg) },
		PolicyFile:      c.String("policy"),
		NoCache:         c.Bool("no-cache"),
		TrustMirror:     c.Bool("trust-mirror"),
		Tool:            "tierpack/" + tierpack.Version(),
	}
	return cl, cl.ReadEnvironment()
}

// targetOptions maps the connection and credential flags to target
// options through the use case's Connection; login reads its own -u/-p
// (what it saves, not this command's credentials).
func targetOptions(c *cli.Context) (target.Options, error) {
	cn := connection(c)
	if c.Command != nil && c.Command.Name != "login" {
		cn.Username, cn.Password, cn.PasswordStdin = c.String("username"), c.String("password"), c.Bool("password-stdin")
	}
	return cn.Options()
}

// connection maps the connection flags; a password is asked on a terminal.
func connection(c *cli.Context) tierpack.Connection {
	return tierpack.Connection{
		PlainHTTP: c.Bool("plain-http"), NoPlainHTTP: c.IsSet("plain-http") && !c.Bool("plain-http"),
		ForceTLS: c.Bool("force-tls"), Insecure: c.Bool("insecure"), CAFile: c.String("ca-file"),
		CertFile: c.String("cert-file"), KeyFile: c.String("key-file"), RegistryConfig: c.String("registry-config"),
		Args: c.Args().Slice(), Stdin: os.Stdin,
		Ask: func(label string) (string, error) {
			p, err := prompt.Password(os.Stdin, c.App.ErrWriter, label, false)
			if errors.Is(err, prompt.ErrNoTerminal) {
				return "", tierpack.ErrNoPrompt
			}
			return string(p), err
		},
		Warn: func(format string, args ...any) {
			display.Fprintf(display.Guard(c.App.ErrWriter), "tierpack: "+format, args...)
		},
	}
}

// action wraps a command's body with what every command does first: parse
// --output, check that it got min to max arguments (max < 0: no limit),
// saying usage otherwise, and build the use-case Client from the flags.
func action(min, max int, usage string, body func(c *cli.Context, cl *tierpack.Client) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		if _, err := wantJSON(c); err != nil {
			return err
		}
		if n := c.NArg(); n < min || (max >= 0 && n > max) {
			return usagef(c, "%s", usage)
		}
		cl, err := client(c)
		if err != nil {
			return err
		}
		return body(c, cl)
	}
}

// asJSON reports whether --output json was asked for.
func asJSON(c *cli.Context) bool { return outputOf(c.App).json }

// envOf is what a command's run function (internal/run) works with: the
// use cases, the display, JSON or text.
func envOf(c *cli.Context, cl *tierpack.Client) *run.Env {
	e := &run.Env{Ctx: c.Context, Client: cl, Display: disp(c)}
	if asJSON(c) {
		e.JSON = func(v any) error { return printJSON(c, v) }
	}
	return e
}

// transferEnv is envOf with progress on transfers; call done after the run.
func transferEnv(c *cli.Context, cl *tierpack.Client) (e *run.Env, done func()) {
	e = envOf(c, cl)
	e.Progress, done = newProgress(c)
	return e, done
}

// disp is the one way text reaches stdout and stderr (--quiet drops status
// lines; what tierpack did not write is escaped).
func disp(c *cli.Context) *display.Display {
	return display.New(c.App.Writer, c.App.ErrWriter, c.Bool("quiet"), isTerminal(c.App.Writer))
}

// newProgress picks how transfers are reported: bars on a terminal, JSON
// lines on stderr with --output json, nothing with --quiet or on a pipe.
// The caller calls the returned stop function once transfers are done.
func newProgress(c *cli.Context) (oci.Progress, func()) {
	switch {
	case c.Bool("quiet"):
		return nil, func() {}
	case asJSON(c):
		return progress.JSON(c.App.ErrWriter), func() {}
	case isTerminal(c.App.ErrWriter):
		return progress.Bars(c.Context, c.App.ErrWriter)
	}
	return nil, func() {}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
