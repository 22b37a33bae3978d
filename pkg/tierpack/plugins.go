package tierpack

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/pkg/plugin/dist"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/contrib"
	"github.com/tierpack/tierpack/sdk/host"
	"github.com/tierpack/tierpack/sdk/plugintest"
)

// PluginRow is one plugin: where it comes from, its pin, and what it says
// about itself (or why it did not start).
type PluginRow struct {
	plugin.Source
	Protocol    int              `json:"protocol,omitempty"`
	Description *sdk.Description `json:"describe,omitempty"`
	Error       string           `json:"error,omitempty"`
}

// PluginListResult lists every plugin and where they are looked for.
type PluginListResult struct {
	Plugins    []PluginRow `json:"plugins"`
	Dirs       []string    `json:"dirs"`
	ManagedDir string      `json:"managedDir"`
	// Sandbox says what this system confines plugins with ("Landlock ABI
	// 7: files, TCP, …", or "none (…)"), and SandboxOff that it was turned
	// off ($TIERPACK_PLUGIN_SANDBOX=off).
	Sandbox    string `json:"sandbox"`
	SandboxOff bool   `json:"sandboxOff,omitempty"`
}

// PluginList starts every plugin once and reports it. A pin whose binary is
// gone is listed too, with how to fix it.
func (c *Client) PluginList(ctx context.Context) (*PluginListResult, error) {
	m, err := c.plugins()
	if err != nil {
		return nil, err
	}
	defer m.Close()
	srcs, err := m.Sources()
	if err != nil {
		return nil, err
	}
	res := &PluginListResult{Plugins: []PluginRow{}, Dirs: m.Dirs(), ManagedDir: m.ManagedDir(), SandboxOff: c.NoSandbox}
	_, res.Sandbox, _ = host.SandboxStatus()
	listed := map[string]bool{}
	for _, s := range srcs {
		listed[s.Type] = true
		r := PluginRow{Source: s}
		if p, err := m.Get(ctx, s.Type); err != nil {
			r.Error = err.Error()
		} else {
			d := p.Describe()
			r.Description, r.Protocol = &d, p.Protocol()
		}
		res.Plugins = append(res.Plugins, r)
	}
	res.Plugins = append(res.Plugins, missingPins(m.ManagedDir(), listed)...)
	return res, nil
}

// missingPins lists the pins in dir whose binary is gone.
func missingPins(dir string, listed map[string]bool) []PluginRow {
	if dir == "" {
		return nil
	}
	lock, err := plugin.ReadLock(dir)
	if err != nil {
		return nil
	}
	var rows []PluginRow
	for _, t := range lock.Types() {
		pin := lock.Plugins[t]
		path := filepath.Join(dir, plugin.BinaryName(t))
		if _, err := os.Stat(path); err == nil || listed[t] {
			continue
		}
		rows = append(rows, PluginRow{Source: plugin.Source{Type: t, Path: path, Managed: true, Pin: &pin},
			Error: fmt.Sprintf("pinned in %s but %s is missing: reinstall it with `tierpack plugin install %s`, or forget it with `tierpack plugin remove %s`",
				filepath.Join(dir, plugin.LockFileName), path, pin.Source, t)})
	}
	return rows
}

// PluginPushRequest asks for a folder of per-platform plugin binaries to be
// published.
type PluginPushRequest struct {
	Dir, Ref string
	// Version is the plugin's version when Dir has no binary for this
	// machine to ask; when it has one, they must agree.
	Version  string
	Progress oci.Progress
	// Key, if set, signs the plugin's index (cosign's formats), so that
	// `plugin install` can verify who published it.
	Key Key
}

// PluginPushResult reports a published plugin.
type PluginPushResult struct {
	Reference     string   `json:"reference"`
	Digest        string   `json:"digest"`
	MediaType     string   `json:"mediaType"`
	ArtifactType  string   `json:"artifactType"`
	Type          string   `json:"type"`
	Version       string   `json:"version"`
	Protocols     []int    `json:"protocols"`
	Platforms     []string `json:"platforms"`
	Uploaded      int      `json:"uploaded"`
	Skipped       int      `json:"skipped"`
	BytesUploaded int64    `json:"bytesUploaded"`
	// Pinned is REPO@DIGEST.
	Pinned string `json:"-"`
	// SignedBy is the key that signed it ("" when unsigned).
	SignedBy string `json:"signedBy,omitempty"`
}

// PluginPush publishes the binaries in req.Dir as one OCI image index.
func (c *Client) PluginPush(ctx context.Context, req PluginPushRequest) (*PluginPushResult, error) {
	ref, err := parseRef(req.Ref)
	if err != nil {
		return nil, err
	}
	if ref.Digest != "" {
		return nil, usagef("%s: push to a tag, not a digest (the digest is computed from the content)", ref)
	}
	bins, err := dist.ScanDir(req.Dir)
	if err != nil {
		return nil, err
	}
	meta, err := c.pluginMeta(ctx, req, bins)
	if err != nil {
		return nil, err
	}
	if ref.Tag == "" {
		ref = ref.WithTag(contrib.TagFor(meta.Version))
	}
	staging, err := os.MkdirTemp("", "tierpack-plugin-push-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(staging)
	packed, err := dist.Pack(bins, meta, c.Created, staging)
	if err != nil {
		return nil, err
	}
	t, err := c.openRef(ctx, ref, false)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	var signer signature.SignerVerifier
	if req.Key.File != "" {
		if signer, err = req.Key.signer(); err != nil { // before anything is pushed
			return nil, err
		}
	}
	res, err := oci.PushBlobs(ctx, t.Store, packed.Blobs, ref.Tag, oci.PushOptions{Progress: req.Progress})
	if err != nil {
		return nil, fmt.Errorf("pushing to %s: %w", ref, err)
	}
	signedBy := ""
	if signer != nil {
		root, err := oci.ResolveDescriptor(ctx, t)
		if err != nil {
			return nil, err
		}
		if _, err := sign.Sign(ctx, t.Store, ref.WithTag("").String(), root, signer); err != nil {
			return nil, fmt.Errorf("signing %s: %w", ref, err)
		}
		id, _ := sign.SignerKeyID(signer)
		signedBy = "key " + id
	}
	return &PluginPushResult{
		SignedBy:  signedBy,
		Reference: ref.String(), Digest: res.Digest, MediaType: res.MediaType,
		ArtifactType: dist.ArtifactType, Type: meta.Type, Version: meta.Version,
		Protocols: meta.Protocols, Platforms: packed.Platforms,
		Uploaded: res.Uploaded, Skipped: res.Skipped, BytesUploaded: res.BytesUploaded,
		Pinned: ref.WithTag("").String() + "@" + res.Digest,
	}, nil
}

// pluginMeta asks this machine's binary for the plugin's type, version and
// protocols, or takes req.Version when there is none.
func (c *Client) pluginMeta(ctx context.Context, req PluginPushRequest, bins []dist.Binary) (dist.Meta, error) {
	native, ok := dist.Native(bins)
	if !ok {
		if req.Version == "" {
			p := oci.CurrentPlatform()
			return dist.Meta{}, usagef("%s has no binary for this machine (%s) to ask for the plugin's version: give it with {PluginVersion}", req.Dir, p.OS+"/"+p.Architecture)
		}
		return dist.Meta{Type: bins[0].Type, Version: req.Version, Protocols: []int{sdk.ProtocolVersion}}, nil
	}
	meta, err := dist.Probe(ctx, native.Path, dist.ProbeOptions{LogLevel: c.LogLevel})
	if err != nil {
		return meta, err
	}
	if req.Version != "" && req.Version != meta.Version {
		return meta, usagef("{PluginVersion} %s, but %s says it is version %s", req.Version, native.Path, meta.Version)
	}
	return meta, nil
}

// PluginInstallResult reports an installed plugin.
type PluginInstallResult struct {
	Installed *dist.Installed `json:"installed"`
	// ShadowedBy is a binary of the same type in $TIERPACK_PLUGINS_DIR that
	// is used instead.
	ShadowedBy string `json:"shadowedBy"`
	// LockFile is where the pin is kept.
	LockFile string `json:"-"`
}

// PluginInstallRequest names the plugin to install and how it is trusted.
type PluginInstallRequest struct {
	Ref string
	// Force replaces a binary tierpack did not install.
	Force bool
	// KeyFiles are public keys trusted to sign this plugin, beyond the
	// policy's keys.plugins (or its scope's plugins.keys).
	KeyFiles []string
	// AllowUnsigned installs a plugin no trusted key signed, pinned as
	// usual, with a warning.
	AllowUnsigned bool
}

// ErrUnsignedPlugin is wrapped when a plugin is not signed by a key
// trusted for plugins.
var ErrUnsignedPlugin = errors.New("plugin not signed by a trusted key")

// pluginVerifier checks a plugin's index signature against the keys
// trusted for plugins in its repository's scope and keyFiles.
// The policy and keyFiles are read once, whatever the plugins checked.
func (c *Client) pluginVerifier(keyFiles []string, allowUnsigned bool) (func(context.Context, *target.Target, ocispec.Descriptor) (string, error), error) {
	gate, err := c.gate(nil)
	if err != nil {
		return nil, err
	}
	var extra []sign.PublicKey
	for _, f := range keyFiles {
		k, err := sign.LoadPublicKeyFile(f)
		if err != nil {
			return nil, &UsageError{Err: err}
		}
		extra = append(extra, k)
	}
	return func(ctx context.Context, t *target.Target, root ocispec.Descriptor) (string, error) {
		g := gate.For(artifact.Identity(t.Ref))
		keys := g.PluginSigners()
		for _, k := range extra {
			if !g.Revoked[k.ID] {
				keys = append(keys, k)
			}
		}
		var why string
		if len(keys) == 0 {
			why = "no key is trusted to sign plugins here"
		} else if v, err := sign.Verify(ctx, t.Store, root, keys); err == nil {
			return "key " + v.KeyID, nil
		} else {
			why = err.Error()
		}
		if allowUnsigned {
			if c.Warn != nil {
				c.Warn(fmt.Sprintf("installing %s unverified, as asked: %s; it is pinned by its sha256 only", t.Ref, why))
			}
			return "", nil
		}
		return "", fmt.Errorf("%w: %s: %s; trust its publisher's key for plugins (keys.plugins in the policy), or install it unverified", ErrUnsignedPlugin, t.Ref, why)
	}, nil
}

// PluginInstall fetches the plugin req.Ref names for this machine,
// verifies its signature, fetches, verifies and probes it, and pins it in
// the managed plugin folder.
func (c *Client) PluginInstall(ctx context.Context, req PluginInstallRequest) (*PluginInstallResult, error) {
	h, err := c.home()
	if err != nil {
		return nil, errors.New("no data folder to install plugins into: set TIERPACK_HOME")
	}
	verify, err := c.pluginVerifier(req.KeyFiles, req.AllowUnsigned)
	if err != nil {
		return nil, err
	}
	t, err := c.open(ctx, req.Ref, true)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	inst, err := dist.Install(ctx, t, dist.InstallOptions{
		Dir: h.Plugins(), Builtins: c.Builtins, Force: req.Force,
		Probe:  dist.ProbeOptions{LogLevel: c.LogLevel},
		Verify: verify,
	})
	if err != nil {
		return nil, err
	}
	res := &PluginInstallResult{Installed: inst, LockFile: filepath.Join(h.Plugins(), plugin.LockFileName)}
	if s, ok := c.pluginSource(inst.Pin.Type); ok && s.Path != inst.Path {
		res.ShadowedBy = s.Path
	}
	return res, nil
}

// pluginSource is the plugin that would run for typ.
func (c *Client) pluginSource(typ string) (plugin.Source, bool) {
	m, err := c.plugins()
	if err != nil {
		return plugin.Source{}, false
	}
	defer m.Close()
	srcs, err := m.Sources()
	if err != nil {
		return plugin.Source{}, false
	}
	for _, s := range srcs {
		if s.Type == typ {
			return s, true
		}
	}
	return plugin.Source{}, false
}

// PluginRemoveResult reports a removed plugin.
type PluginRemoveResult struct {
	Removed string      `json:"removed"`
	Pin     *plugin.Pin `json:"pin"`
}

// PluginRemove uninstalls a plugin installed with PluginInstall.
func (c *Client) PluginRemove(typ string) (*PluginRemoveResult, error) {
	if slices.Contains(c.Builtins, typ) {
		return nil, usagef("%q is built into tierpack and cannot be removed", typ)
	}
	h, err := c.home()
	if err != nil {
		return nil, errors.New("no data folder: set TIERPACK_HOME")
	}
	pin, err := dist.Remove(h.Plugins(), typ)
	if errors.Is(err, host.ErrNotFound) {
		if s, ok := c.pluginSource(typ); ok {
			return nil, fmt.Errorf("%w %q: it was not installed by tierpack; it is %s (from $%s): delete that file yourself", host.ErrNotFound, typ, s.Path, plugin.DirEnv)
		}
	}
	if err != nil {
		return nil, err
	}
	return &PluginRemoveResult{Removed: typ, Pin: pin}, nil
}

// PluginCheckRequest asks for the conformance checks (sdk/plugintest) to
// run against a plugin binary.
type PluginCheckRequest struct {
	Binary string
	// Good is a contribution the plugin must accept; Bad one it must reject.
	Good, Bad string
	// Skip names checks not to run.
	Skip []string
	// Timeout bounds each call; zero means plugintest's default.
	Timeout time.Duration
}

// CheckFailedError reports a plugin that failed conformance checks.
type CheckFailedError struct{ Report *plugintest.Report }

func (e *CheckFailedError) Error() string {
	failed := e.Report.Failed()
	names := make([]string, len(failed))
	for i, f := range failed {
		names[i] = f.Name
	}
	return fmt.Sprintf("plugin check: %s failed %d of %d checks: %s", e.Report.Binary, len(failed), len(e.Report.Checks), strings.Join(names, ", "))
}

// PluginCheckResult is the conformance report.
type PluginCheckResult struct {
	*plugintest.Report
}

// PluginCheck runs the conformance checks. The report comes back whenever
// the checks ran, with a *CheckFailedError when one failed.
func (c *Client) PluginCheck(ctx context.Context, req PluginCheckRequest) (*PluginCheckResult, error) {
	for _, s := range req.Skip {
		if !slices.Contains(plugintest.Checks, s) {
			return nil, usagef("{Skip} %q: no such check; the checks are %s", s, strings.Join(plugintest.Checks, ", "))
		}
	}
	r := plugintest.Check(ctx, plugintest.Config{
		Binary: req.Binary, Good: req.Good, Bad: req.Bad, Skip: req.Skip, LogLevel: c.LogLevel, CallTimeout: req.Timeout,
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(r.Failed()) > 0 {
		return &PluginCheckResult{&r}, &CheckFailedError{Report: &r}
	}
	return &PluginCheckResult{&r}, nil
}

// PluginTypes lists the contribution types this machine has a plugin for
// (built-in, companions found, installed), without starting any: for
// shell completion.
func (c *Client) PluginTypes() []string {
	m, err := c.plugins()
	if err != nil {
		return nil
	}
	defer m.Close()
	srcs, _ := m.Sources()
	types := append([]string{}, c.Builtins...)
	for _, s := range srcs {
		if !slices.Contains(types, s.Type) {
			types = append(types, s.Type)
		}
	}
	for _, t := range c.Companions {
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	return types
}

// PluginVerifyRow is one installed plugin re-checked.
type PluginVerifyRow struct {
	Type    string `json:"type"`
	Version string `json:"version"`
	Source  string `json:"source"`
	// Signer is the trusted key that signs it now; empty when none does.
	Signer string `json:"signer,omitempty"`
	// Problem says why it failed; empty when it passed.
	Problem string `json:"problem,omitempty"`
}

// PluginVerifyResult is every installed plugin, re-checked.
type PluginVerifyResult struct {
	Plugins []PluginVerifyRow `json:"plugins"`
}

// PluginVerify re-checks every installed plugin now: its index is signed
// by a key trusted for plugins today (revoked keys count for nothing), the
// signed index leads to the pinned build, and the installed binary is that
// build. A plugin installed with AllowUnsigned fails unless it has since
// been signed by a trusted key. The error joins every failure: one wrapping
// ErrUnsignedPlugin (exit 4) or plugin.ErrTampered (exit 7).
func (c *Client) PluginVerify(ctx context.Context, keyFiles []string) (*PluginVerifyResult, error) {
	h, err := c.home()
	if err != nil {
		return nil, errors.New("no data folder: set TIERPACK_HOME")
	}
	lock, err := plugin.ReadLock(h.Plugins())
	if err != nil {
		return nil, err
	}
	res := &PluginVerifyResult{Plugins: []PluginVerifyRow{}}
	verify, err := c.pluginVerifier(keyFiles, false)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, typ := range slices.Sorted(maps.Keys(lock.Plugins)) {
		pin := lock.Plugins[typ]
		row := PluginVerifyRow{Type: typ, Version: pin.Version, Source: pin.Source}
		ref := pin.Source
		if i := strings.LastIndex(ref, "@"); i >= 0 {
			ref = ref[:i]
		} else if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
			ref = ref[:i]
		}
		err := func() error {
			t, err := c.open(ctx, ref+"@"+pin.Digest, true)
			if err != nil {
				return err
			}
			defer t.Close()
			row.Signer, err = dist.Verify(ctx, t, pin, filepath.Join(h.Plugins(), plugin.BinaryName(typ)), verify)
			return err
		}()
		if err != nil {
			row.Problem = err.Error()
			errs = append(errs, fmt.Errorf("plugin %q: %w", typ, err))
		}
		res.Plugins = append(res.Plugins, row)
	}
	return res, errors.Join(errs...)
}
