// Package tierpack holds tierpack's use cases: publish, pull, promote,
// inspect, verify, sign, index, search and the plugin and cache chores.
// Each is one method of Client that takes a typed request and returns a
// typed, JSON-tagged result: data only. The command line (cmd/tierpack)
// maps flags to a request and renders the result (its display package
// owns every text form). CodeOf classifies the errors, so
// the command line maps them to exit codes without knowing the packages
// below.
//
// Data flows one way through the packages below:
//
//	push:  contrib.Load → plugin Validate/Package (pkg/artifact.Pack)
//	       → trust gate (pkg/trust) → OCI layer (pkg/artifact Push) → target
//	pull:  target → resolve (pkg/artifact.Resolve) → trust gate → fetch and
//	       verify blobs → plugin Unpack → atomic rename into place
//
// Every tier decision goes through pkg/trust's Gate; a Client never decides
// a tier itself.
package tierpack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/cache"
	"github.com/tierpack/tierpack/pkg/home"
	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/trust"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
	"github.com/tierpack/tierpack/sdk/host"
)

// Client runs the use cases. Its zero value uses $TIERPACK_HOME (or the
// user data folder), Docker's credentials, the built-in policy and plugins
// with their default timeouts.
type Client struct {
	// Home owns every path under $TIERPACK_HOME; the zero value resolves it
	// from the environment.
	Home home.Home
	// Target configures registries (plain HTTP, TLS, credentials, stall
	// timeout). Its ReadOnly field is set per call; nil Registries are
	// read from $TIERPACK_HOME/registries.yaml.
	Target target.Options
	// Builtins are the plugin types the host binary serves itself.
	Builtins []string
	// Companions are types whose plugins ship with tierpack as binaries of
	// their own, found in PluginDirs (beside the host binary): a missing one
	// is reported with how to install it.
	Companions []string
	// Self is the binary that serves Builtins (re-executed as
	// `Self __plugin TYPE`); empty means this executable.
	Self string
	// PluginDirs are searched for tierpack-plugin-<type> binaries before
	// the managed folder ($TIERPACK_PLUGINS_DIR).
	PluginDirs []string
	// PluginTimeout bounds one plugin call; zero means the default.
	PluginTimeout time.Duration
	// CompanionDir is the folder of the running executable: Companions are
	// found there (or installed), nowhere else.
	CompanionDir string
	// PluginEnv are variables ("NAME=value") passed on to plugins
	// ($TIERPACK_PLUGIN_ENV); they get none of tierpack's otherwise.
	PluginEnv []string
	// HostUnpack are the built-in types whose Unpack is the standard
	// archive extraction, run in this process by pull (no plugin process).
	HostUnpack map[string]func(context.Context, sdk.UnpackRequest) (sdk.UnpackResult, error)
	// HostFormats are, per type in HostUnpack, the layer media types its
	// standard extraction reads and their archive formats: a one-layer
	// pull of such a type is streamed (download and extraction at once).
	HostFormats map[string]map[string]archive.Format
	// HostInstallDirs are, per built-in type, its Describe answer's
	// InstallDir (sdk.Description): where install puts it without -o.
	HostInstallDirs map[string]string
	// NoSandbox runs plugins unconfined ($TIERPACK_PLUGIN_SANDBOX=off).
	NoSandbox bool
	// RequireSandbox refuses third-party plugins this system cannot
	// confine (--require-sandbox; the policy's requireSandbox too).
	RequireSandbox bool
	// LogLevel is handed to plugins.
	LogLevel string
	// LogOutput receives plugins' log lines, and Warn the plugin manager's
	// warnings; nil means os.Stderr. A front end passes writers that
	// escape what plugins wrote.
	LogOutput io.Writer
	Warn      func(msg string)
	// PolicyFile overrides $TIERPACK_HOME/policy.yaml.
	PolicyFile string
	// NoCache bypasses the content-addressed cache.
	NoCache bool
	// TrustMirror accepts the tier records and signatures of a registry's
	// mirror when the registry itself cannot be reached; a mirror could
	// withhold a demotion, so without it such a tier is undecided.
	TrustMirror bool
	// Tool names this program in records and user agents ("tierpack/v1.2.3").
	Tool string
	// Created stamps org.opencontainers.image.created; zero omits it, so the
	// same content always gives the same digest.
	Created time.Time

	// bundleList is bundles' answer, read once.
	bundlesOnce sync.Once
	bundleList  []*target.Bundle
}

// UsageError marks a request that cannot run as given (a malformed
// reference, settings that exclude each other): the caller should fix the
// request, not retry it.
//
// A UsageError made by this package names the request's fields in braces
// in its template ("{Platform} and {AllPlatforms} exclude each other"):
// Error says them by their Go names, and a front end says them in its own
// words with Render (a command line passes its flag names).
type UsageError struct {
	Err error

	format string
	args   []any
}

func (e *UsageError) Error() string { return e.Render(nil) }

// Render is the message with every field named in it spelled by name (nil
// keeps the field's Go name).
func (e *UsageError) Render(name func(field string) string) string {
	if e.format == "" {
		return e.Err.Error()
	}
	var b strings.Builder
	rest := e.format
	for {
		i := strings.IndexByte(rest, '{')
		j := strings.IndexByte(rest[i+1:], '}')
		if i < 0 || j < 0 {
			b.WriteString(rest)
			break
		}
		field := rest[i+1 : i+1+j]
		b.WriteString(rest[:i])
		if name != nil {
			field = name(field)
		}
		b.WriteString(strings.ReplaceAll(field, "%", "%%"))
		rest = rest[i+2+j:]
	}
	return fmt.Sprintf(b.String(), e.args...)
}

// Unwrap returns the cause, if it wraps one.
func (e *UsageError) Unwrap() error { return e.Err }

// usagef is a UsageError whose format names request fields in braces.
func usagef(format string, args ...any) error {
	return &UsageError{format: format, args: args}
}

func (c *Client) home() (home.Home, error) {
	if c.Home.Root() != "" {
		return c.Home, nil
	}
	return home.New()
}

// targetOptions returns the registry options for one call.
func (c *Client) targetOptions(readOnly bool) (target.Options, error) {
	opts := c.Target
	opts.ReadOnly = readOnly
	if opts.UserAgent == "" {
		opts.UserAgent = c.Tool
	}
	if opts.StoreDir == "" || opts.Registries == nil {
		h, err := c.home()
		if err != nil {
			return opts, err
		}
		if opts.StoreDir == "" {
			opts.StoreDir = h.Store()
		}
		if opts.Registries == nil {
			if opts.Registries, err = target.LoadRegistries(h.RegistriesFile()); err != nil {
				return opts, err
			}
		}
	}
	if opts.Bundles == nil && readOnly {
		opts.Bundles = c.bundles()
	}
	return opts, nil
}

// bundles are the mirror bundles among the configured indexes (added with
// `tierpack index add NAME oci:DIR`): each stands in for the registries
// its index names. They are read once per Client (every registry opened
// for reading asks).
func (c *Client) bundles() []*target.Bundle {
	c.bundlesOnce.Do(func() {
		c.bundleList = []*target.Bundle{}
		h, err := c.home()
		if err != nil {
			return
		}
		srcs, err := (&index.Config{Dir: h.Root()}).Sources()
		if err != nil {
			return
		}
		for _, src := range srcs {
			if src.Kind != index.OCISource {
				continue
			}
			if ref, err := target.Parse(src.Location); err == nil && ref.Kind == target.Layout {
				if b, err := target.ReadBundle(ref.Path); err == nil {
					c.bundleList = append(c.bundleList, b)
				}
			}
		}
	})
	return c.bundleList
}

// parseRef parses a reference, reporting a malformed one as a usage error.
func parseRef(s string) (target.Ref, error) {
	ref, err := target.Parse(s)
	if err != nil {
		return ref, &UsageError{Err: err}
	}
	return ref, nil
}

// open parses and opens a reference. Registry targets opened for reading
// get the content-addressed cache unless NoCache.
func (c *Client) open(ctx context.Context, s string, readOnly bool) (*target.Target, error) {
	ref, err := parseRef(s)
	if err != nil {
		return nil, err
	}
	return c.openRef(ctx, ref, readOnly)
}

func (c *Client) openRef(ctx context.Context, ref target.Ref, readOnly bool) (*target.Target, error) {
	return c.openWith(ctx, ref, readOnly, false)
}

func (c *Client) openWith(ctx context.Context, ref target.Ref, readOnly, noMirror bool) (*target.Target, error) {
	opts, err := c.targetOptions(readOnly)
	if err != nil {
		return nil, err
	}
	opts.NoMirror = noMirror
	t, err := target.Open(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	if ref.Kind == target.Remote && readOnly {
		if t.Cache, err = c.cache(); err != nil {
			t.Close()
			return nil, err
		}
	}
	return t, nil
}

// resolve opens a reference and resolves its manifest or index (for
// platform plat, if given); the caller closes the target. A mirror that
// cannot answer — unreachable, failing, or without the reference — is
// passed over for the registry itself, with a warning, as Docker and
// containerd do (content is checked by digest either way); the target
// returned is the one to use from then on.
func (c *Client) resolve(ctx context.Context, s string, readOnly bool, plat *ocispec.Platform) (*target.Target, *artifact.Info, error) {
	t, err := c.open(ctx, s, readOnly)
	if err != nil {
		return nil, nil, err
	}
	info, err := artifact.Resolve(ctx, t, plat)
	if err != nil && t.Mirror != "" && ctx.Err() == nil && mirrorMiss(err) {
		if origin, oerr := c.openWith(ctx, t.Ref, true, true); oerr == nil {
			slog.Warn("the mirror could not serve the reference; reading from the registry itself", "mirror", t.Mirror, "ref", t.Ref.String(), "err", err)
			mirror, mirrorErr := t.Mirror, err
			t.Close()
			t = origin
			if info, err = artifact.Resolve(ctx, t, plat); err != nil && mirrorMiss(err) && !errors.Is(err, errdef.ErrNotFound) {
				// The registry itself cannot be reached either: the
				// mirror's answer says more.
				err = fmt.Errorf("%w (and the registry itself: %v)", mirrorErr, err)
			} else if err != nil {
				err = fmt.Errorf("%w (the mirror %s could not serve it either)", err, mirror)
			}
		}
	}
	if err != nil {
		t.Close()
		return nil, nil, err
	}
	return t, info, nil
}

// MirrorOnlyError is a registry that cannot be reached while its mirror
// answers: the tier records and signatures must come from the registry
// itself (a mirror could withhold a demotion, and one filled by a plain
// copy lacks the records), so a tier above contrib is undecided unless
// the client accepts the mirror's (Client.TrustMirror). It wraps
// trust.ErrUndecided.
type MirrorOnlyError struct {
	Registry, Mirror string
	Err              error
}

func (e *MirrorOnlyError) Error() string {
	return fmt.Sprintf("the registry %s cannot be reached (%v) and only its mirror %s answers; "+
		"tier records are read from the registry itself, since a mirror could withhold a demotion", e.Registry, e.Err, e.Mirror)
}

// Unwrap returns trust.ErrUndecided.
func (e *MirrorOnlyError) Unwrap() error { return trust.ErrUndecided }

// trustStore is the one path every command that reports or admits a tier
// reads the facts that decide it (tier records and signatures) through:
// from t's own store, or, when t reads from a mirror, from the registry
// itself. When the registry cannot be reached it fails with a
// *MirrorOnlyError, unless c.TrustMirror accepts the mirror's facts (with
// a warning). root is any manifest of t's repository, to probe the
// registry with. done closes what it opened.
func (c *Client) trustStore(ctx context.Context, t *target.Target, root ocispec.Descriptor) (store oras.ReadOnlyGraphTarget, done func(), err error) {
	if t.Mirror == "" {
		return t.Store, func() {}, nil
	}
	origin, err := c.openWith(ctx, t.Ref, true, true)
	if err == nil {
		if _, err = origin.Store.Resolve(ctx, root.Digest.String()); err == nil || errors.Is(err, errdef.ErrNotFound) || !mirrorMiss(err) {
			return origin.Store, func() { origin.Close() }, nil
		}
		origin.Close()
	}
	if bundle, ok := strings.CutPrefix(t.Mirror, "oci:"); ok {
		// A mirror bundle, chosen for a machine without the registry: its
		// records and signatures are verified as the registry's would be,
		// but it cannot hold a demotion made after it was written.
		slog.Debug("the registry cannot be reached: tier records and signatures are read from the mirror bundle; a demotion made after the bundle was written is not seen until it is mirrored again", "bundle", bundle, "ref", t.Ref.String(), "err", err)
		return t.Store, func() {}, nil
	}
	if !c.TrustMirror {
		return nil, func() {}, &MirrorOnlyError{Registry: t.Ref.Registry, Mirror: t.Mirror, Err: err}
	}
	slog.Warn("the registry itself cannot be reached: tier records and signatures are read from the mirror, as asked; it could withhold a demotion", "mirror", t.Mirror, "ref", t.Ref.String(), "err", err)
	return t.Store, func() {}, nil
}

// verdictOf is the gate's verdict on the artifact of t whose root manifest
// is root, its facts read through trustStore; facts that cannot be read
// leave it undecided.
func (c *Client) verdictOf(ctx context.Context, gate trust.Gate, t *target.Target, root ocispec.Descriptor, annotations map[string]string) trust.Verdict {
	ctx = oci.WithCache(ctx, t.Cache)
	facts, done, err := c.trustStore(ctx, t, root)
	defer done()
	if err != nil {
		return trust.Undecided(annotations, err)
	}
	return gate.For(artifact.Identity(t.Ref)).Verify(ctx, facts, root, annotations)
}

// verified is a resolved artifact with the facts that decide its tier and
// the gate's verdict: the opening every use case that reports or admits a
// tier shares (Inspect, Pull, Verify). Close releases it.
type verified struct {
	t       *target.Target
	info    *artifact.Info
	gate    trust.Gate
	facts   oras.ReadOnlyGraphTarget
	verdict trust.Verdict
	done    func()
}

// openVerified loads the trust gate (keyFiles and the configured keys),
// resolves ref (for platform plat, if given), finds where its trust facts
// are read (trustStore) and has the gate verify its tier.
func (c *Client) openVerified(ctx context.Context, ref string, keyFiles []string, plat *ocispec.Platform) (*verified, error) {
	gate, err := c.gate(keyFiles)
	if err != nil {
		return nil, err
	}
	t, info, err := c.resolve(ctx, ref, true, plat)
	if err != nil {
		return nil, err
	}
	gate = gate.For(artifact.Identity(t.Ref))
	ctx = oci.WithCache(ctx, t.Cache)
	facts, done, err := c.trustStore(ctx, t, info.Root())
	v := &verified{t: t, info: info, gate: gate, facts: facts, done: done}
	if err != nil {
		v.facts, v.verdict = t.Store, trust.Undecided(info.Annotations, err)
		return v, nil
	}
	v.verdict = gate.Verify(ctx, facts, info.Root(), info.Annotations)
	if r := v.verdict.Record; v.verdict.Demoted && r != nil && r.Subject != info.Digest {
		// Say how this client came to a manifest the demotion replaced.
		if t.Ref.Digest != "" {
			v.verdict.Reason += "; it was pulled by digest"
		} else if !r.Remembered {
			v.verdict.Reason += "; the tag " + t.Ref.Tag + " names it, not the manifest the demotion wrote: it was re-tagged after the demotion"
		}
	}
	return v, nil
}

// Close releases the target and the trust facts' store.
func (v *verified) Close() {
	v.done()
	v.t.Close()
}

// mirrorMiss reports an error that says the mirror cannot serve a
// reference — it lacks it, fails, or cannot be reached — rather than
// something about the artifact itself (a missing platform, a foreign
// artifact), which the registry would say too.
func mirrorMiss(err error) bool {
	var ue *target.UnreachableError
	var ne net.Error
	var re *errcode.ErrorResponse
	switch {
	case errors.Is(err, errdef.ErrNotFound), errors.As(err, &ue), errors.As(err, &ne):
		return true
	case errors.As(err, &re):
		return re.StatusCode == http.StatusNotFound || re.StatusCode == http.StatusTooManyRequests || re.StatusCode >= 500
	}
	return false
}

// cache opens the content-addressed cache; nil with NoCache or when there
// is no data folder to hold it (the cache only saves time).
func (c *Client) cache() (*cache.Cache, error) {
	if c.NoCache {
		return nil, nil
	}
	h, err := c.home()
	if err != nil {
		return nil, nil
	}
	return cache.Open(h.Cache())
}

// plugins builds the plugin manager for one use case; the caller closes it.
func (c *Client) plugins() (*plugin.Manager, error) {
	managed := ""
	if h, err := c.home(); err == nil {
		managed = h.Plugins()
	}
	require := c.RequireSandbox
	if p, err := trust.LoadPolicy(c.trustSources(nil)); err == nil && p.RequireSandbox {
		require = true // only the policy is read: plugins need no keys
	}
	return plugin.NewManager(plugin.Options{
		Builtins:       c.Builtins,
		Self:           c.Self,
		Dirs:           c.PluginDirs,
		ManagedDir:     managed,
		Companions:     c.Companions,
		CompanionDir:   c.CompanionDir,
		CallTimeout:    c.PluginTimeout,
		LogLevel:       c.LogLevel,
		LogOutput:      c.LogOutput,
		Warn:           c.Warn,
		Env:            c.PluginEnv,
		NoSandbox:      c.NoSandbox,
		RequireSandbox: require,
	})
}

// pluginHint adds to a "no plugin for typ" error how to install a
// companion plugin.
func (c *Client) pluginHint(err error, typ string) error {
	if err == nil || !errors.Is(err, host.ErrNotFound) || !slices.Contains(c.Companions, typ) {
		return err
	}
	return fmt.Errorf("%w\n  the %s plugin ships with tierpack as its own binary, %s%s: install both with\n  go install github.com/tierpack/tierpack/cmd/...@latest (or make build, which puts them in bin/)",
		err, typ, host.BinaryPrefix, typ)
}

// trustSources are where the gate's policy and keys come from.
func (c *Client) trustSources(keyFiles []string) trust.Sources {
	src := trust.Sources{PolicyFile: c.PolicyFile, KeyFiles: keyFiles}
	if h, err := c.home(); err == nil {
		src.DefaultPolicyFile, src.KeyDir, src.RecordDir = h.PolicyFile(), h.TrustedKeys(), h.Records()
	}
	return src
}

// gate loads the trust gate: the policy and the trusted keys (keyFiles,
// the policy's, and $TIERPACK_HOME/trusted-keys/*.pub).
func (c *Client) gate(keyFiles []string) (trust.Gate, error) {
	g, err := trust.Load(c.trustSources(keyFiles))
	var ke *trust.KeyError
	if errors.As(err, &ke) {
		return g, &UsageError{Err: err}
	}
	return g, err
}

// fileExists reports whether p is a regular file.
func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
