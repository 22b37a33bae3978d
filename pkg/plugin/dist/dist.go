// Package dist publishes tierpack plugins as OCI artifacts and installs them
// from any target tierpack can open (registry, OCI layout, local store).
//
// # The artifact
//
// A plugin is an OCI image index with artifactType ArtifactType and one
// image manifest per platform. Each platform's manifest has the empty config
// and one standard tar+gzip layer holding a single file, the executable,
// named tierpack-plugin-<type> (with .exe for Windows). The index and every
// manifest carry the annotations
//
//	dev.tierpack.plugin.type           the contribution type it serves
//	org.opencontainers.image.version   the plugin's version (its Describe)
//	dev.tierpack.plugin.protocols      protocol versions it speaks, e.g. "1"
//	dev.tierpack.plugin.sdk-version    the tierpack sdk it was built with
//	dev.tierpack.plugin.artifact-type  the artifactType of what it packages
//	org.opencontainers.image.title     tierpack-plugin-<type>
//	org.opencontainers.image.description
//
// and each manifest dev.tierpack.plugin.sha256, the executable's sha256, so
// the pin an install records can be compared with what the publisher built.
//
// # Push
//
// Push takes a folder of per-platform binaries named
// tierpack-plugin-<type>-<os>-<arch>[-<variant>][.exe] — what `GOOS=… GOARCH=…
// go build -o dist/tierpack-plugin-rules-linux-arm64` gives — and other
// files are ignored. The type, version and protocols come from running the
// binary for this machine's platform; without one, Meta must be given.
//
// # Install
//
// Install resolves a reference to an index, picks this machine's platform,
// fetches the manifest and layer verifying each digest, extracts the
// executable, checks its sha256 against the manifest's annotation, runs it
// once (handshake and Describe, which must agree with the annotations), and
// only then moves it into the managed plugin folder and pins its sha256 in
// the folder's lock file (see package plugin).
package dist

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"

	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
	"github.com/tierpack/tierpack/sdk/contrib"
	"github.com/tierpack/tierpack/sdk/host"
)

// ArtifactType is the artifactType of a plugin's image index and manifests.
const ArtifactType = "application/vnd.tierpack.plugin.v1"

// Annotation keys on a plugin's index and manifests.
const (
	// AnnotationSHA256 is on each platform manifest: the hex sha256 of the
	// executable inside its layer.
	AnnotationSHA256 = sdk.AnnotationPluginSHA256
)

// MaxBinarySize bounds the executable Install extracts (512 MiB).
const MaxBinarySize = 512 << 20

// ErrNoPlatform is wrapped when a plugin has no build for this platform. It
// wraps errdef.ErrNotFound.
var ErrNoPlatform = fmt.Errorf("no build for this platform: %w", errdef.ErrNotFound)

// Binary is one platform's executable in a push folder.
type Binary struct {
	// Path is the file.
	Path string
	// Type is the plugin type its name says.
	Type string
	// Platform its name says.
	Platform ocispec.Platform
}

// Meta is what a plugin's artifact says about it.
type Meta struct {
	Type         string
	Version      string
	SDKVersion   string
	ArtifactType string
	Description  string
	// Protocols lists the plugin protocol versions it speaks.
	Protocols []int
	// StandardUnpack and InstallDir are its Describe's declarations
	// (sdk.Description).
	StandardUnpack bool
	InstallDir     string
}

var (
	knownOS = []string{"aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "js", "linux",
		"netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows"}
	knownArch = []string{"386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle",
		"ppc64", "ppc64le", "riscv64", "s390x", "wasm"}
	variantRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^v[0-9]+(\.[0-9]+)?$`) })
	typeRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`) })
)

// ValidType reports whether typ can be a plugin type: lower-case letters,
// digits and single '-' between them, at most 32 characters.
func ValidType(typ string) bool { return len(typ) <= 32 && typeRE().MatchString(typ) }

// ParseBinaryName splits tierpack-plugin-<type>-<os>-<arch>[-<variant>][.exe]
// into the type and the platform.
func ParseBinaryName(name string) (typ string, p ocispec.Platform, ok bool) {
	rest, found := strings.CutPrefix(name, host.BinaryPrefix)
	if !found {
		return "", p, false
	}
	rest = strings.TrimSuffix(rest, ".exe")
	parts := strings.Split(rest, "-")
	n := len(parts)
	switch {
	case n >= 3 && slices.Contains(knownOS, parts[n-2]) && slices.Contains(knownArch, parts[n-1]):
		p = ocispec.Platform{OS: parts[n-2], Architecture: parts[n-1]}
		typ = strings.Join(parts[:n-2], "-")
	case n >= 4 && slices.Contains(knownOS, parts[n-3]) && slices.Contains(knownArch, parts[n-2]) && variantRE().MatchString(parts[n-1]):
		p = ocispec.Platform{OS: parts[n-3], Architecture: parts[n-2], Variant: parts[n-1]}
		typ = strings.Join(parts[:n-3], "-")
	default:
		return "", p, false
	}
	return typ, p, ValidType(typ)
}

// ScanDir lists the per-platform plugin binaries in dir, sorted by
// platform. Files not named tierpack-plugin-… are ignored; one so named
// without a platform, binaries of different types, a platform given twice,
// or a Go binary built for another platform than its name says are errors.
func ScanDir(dir string) ([]Binary, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var bins []Binary
	seen := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, host.BinaryPrefix) || e.IsDir() {
			continue
		}
		typ, p, ok := ParseBinaryName(name)
		if !ok {
			return nil, fmt.Errorf("%s: name it %s<type>-<os>-<arch> (e.g. %srules-linux-amd64), so that tierpack knows its platform",
				filepath.Join(dir, name), host.BinaryPrefix, host.BinaryPrefix)
		}
		b := Binary{Path: filepath.Join(dir, name), Type: typ, Platform: p}
		if len(bins) > 0 && bins[0].Type != typ {
			return nil, fmt.Errorf("%s holds plugins of types %q and %q: push one type at a time", dir, bins[0].Type, typ)
		}
		key := platformString(p)
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("%s and %s are both for %s", prev, name, key)
		}
		seen[key] = name
		if err := checkGoPlatform(b); err != nil {
			return nil, err
		}
		bins = append(bins, b)
	}
	if len(bins) == 0 {
		return nil, fmt.Errorf("%s holds no plugin binaries: name them %s<type>-<os>-<arch>, e.g. GOOS=linux GOARCH=amd64 go build -o %s",
			dir, host.BinaryPrefix, filepath.Join(dir, host.BinaryPrefix+"rules-linux-amd64"))
	}
	sort.Slice(bins, func(i, j int) bool { return platformString(bins[i].Platform) < platformString(bins[j].Platform) })
	return bins, nil
}

// checkGoPlatform refuses a Go binary whose build settings name another
// platform than its file name. Other binaries cannot be checked this way.
func checkGoPlatform(b Binary) error {
	bi, err := buildinfo.ReadFile(b.Path)
	if err != nil {
		return nil
	}
	var goos, goarch, goarm string
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		case "GOARM":
			goarm = s.Value
		}
	}
	if goos == "" || goarch == "" {
		return nil
	}
	if goos != b.Platform.OS || goarch != b.Platform.Architecture ||
		(goarm != "" && b.Platform.Variant != "" && "v"+strings.SplitN(goarm, ",", 2)[0] != b.Platform.Variant) {
		return fmt.Errorf("%s was built for %s/%s, but its name says %s: rebuild it with GOOS=%s GOARCH=%s, or rename it",
			b.Path, goos, goarch, platformString(b.Platform), b.Platform.OS, b.Platform.Architecture)
	}
	return nil
}

func platformString(p ocispec.Platform) string { return oci.PlatformString(p) }

// Native returns the binary for this machine's platform, if there is one.
func Native(bins []Binary) (Binary, bool) {
	for _, b := range bins {
		if want := oci.CurrentPlatform(); b.Platform.OS == want.OS && b.Platform.Architecture == want.Architecture {
			return b, true
		}
	}
	return Binary{}, false
}

// ProbeOptions tune Probe and Install's run of the plugin.
type ProbeOptions struct {
	// StartTimeout bounds exec, handshake and Describe; zero means
	// host.DefaultStartTimeout.
	StartTimeout time.Duration
	// LogLevel for the plugin's log lines; empty means "warn".
	LogLevel string
}

// Probe runs the plugin executable at path once — handshake and Describe —
// and stops it: what Push and Install know about a binary comes from here.
// Failures are the plugin package's errors (ErrHandshake, ErrProtocol, …).
func Probe(ctx context.Context, path string, opts ProbeOptions) (Meta, error) {
	m, err := plugin.NewManager(plugin.Options{StartTimeout: opts.StartTimeout, LogLevel: opts.LogLevel, Reattach: map[string]sdk.ReattachInfo{}})
	if err != nil {
		return Meta{}, err
	}
	defer m.Close()
	p, err := m.StartBinary(ctx, path)
	if err != nil {
		return Meta{}, err
	}
	d := p.Description
	return Meta{
		Type: d.Type, Version: d.Version, SDKVersion: d.SDKVersion, ArtifactType: d.ArtifactType,
		Description: d.Description, Protocols: []int{p.Protocol()}, StandardUnpack: d.StandardUnpack, InstallDir: d.InstallDir,
	}, nil
}

// Annotations returns the annotations of a plugin's index and manifests.
func (m Meta) Annotations(created time.Time) map[string]string {
	protos := make([]string, len(m.Protocols))
	for i, p := range m.Protocols {
		protos[i] = strconv.Itoa(p)
	}
	a := map[string]string{
		sdk.AnnotationPluginType:         m.Type,
		ocispec.AnnotationVersion:        m.Version,
		sdk.AnnotationPluginProtocols:    strings.Join(protos, ","),
		sdk.AnnotationPluginSDKVersion:   m.SDKVersion,
		sdk.AnnotationPluginArtifactType: m.ArtifactType,
		ocispec.AnnotationTitle:          host.BinaryPrefix + m.Type,
		ocispec.AnnotationDescription:    m.Description,
	}
	if !created.IsZero() {
		a[ocispec.AnnotationCreated] = created.UTC().Format(time.RFC3339)
	}
	for k, v := range a {
		if v == "" {
			delete(a, k)
		}
	}
	return a
}

// check says what is wrong with m for publishing.
func (m Meta) check() error {
	switch {
	case !ValidType(m.Type):
		return fmt.Errorf("plugin type %q is not a type name (lower-case letters, digits and '-')", m.Type)
	case !contrib.IsSemver(m.Version):
		return fmt.Errorf("plugin version %q is not semver: the version becomes the tag; fix the plugin's Describe", m.Version)
	case len(m.Protocols) == 0:
		return errors.New("no protocol versions given")
	}
	return nil
}

// Packed is a plugin artifact ready to push with oci.PushBlobs.
type Packed struct {
	Meta Meta
	// Root is the image index.
	Root ocispec.Descriptor
	// Blobs lists every blob in push order, the index last.
	Blobs []oci.Blob
	// Platforms lists os/arch[/variant] of each manifest.
	Platforms []string
}

// Pack builds the artifact for bins in the folder staging (which it
// creates; the caller removes it once pushed). The same binaries and
// created time always give the same digests.
func Pack(bins []Binary, meta Meta, created time.Time, staging string) (*Packed, error) {
	if err := meta.check(); err != nil {
		return nil, err
	}
	ann := meta.Annotations(created)
	empty := oci.EmptyJSON()
	packed := &Packed{Meta: meta, Blobs: []oci.Blob{empty}}
	var manifests []oci.Blob
	var entries []ocispec.Descriptor
	for _, b := range bins {
		if b.Type != meta.Type {
			return nil, fmt.Errorf("%s is named for type %q, but the plugin says it is %q: rename it", b.Path, b.Type, meta.Type)
		}
		layer, sum, err := packLayer(b, meta.Type, created, staging)
		if err != nil {
			return nil, err
		}
		packed.Blobs = append(packed.Blobs, layer)
		mann := map[string]string{AnnotationSHA256: sum}
		for k, v := range ann {
			mann[k] = v
		}
		man, err := oci.ManifestBlob(oci.NewManifest(ArtifactType, empty.Desc, []ocispec.Descriptor{layer.Desc}, mann))
		if err != nil {
			return nil, err
		}
		p := b.Platform
		// The index lists each manifest by platform, without artifactType.
		man.Desc.ArtifactType, man.Desc.Platform = "", &p
		manifests = append(manifests, man)
		entries = append(entries, man.Desc)
		packed.Platforms = append(packed.Platforms, platformString(p))
	}
	idx, err := oci.IndexBlob(oci.NewIndex(ArtifactType, entries, ann))
	if err != nil {
		return nil, err
	}
	packed.Root = idx.Desc
	packed.Blobs = append(packed.Blobs, manifests...)
	packed.Blobs = append(packed.Blobs, idx)
	return packed, nil
}

// packLayer copies b's executable into its own folder of staging under the
// name it is installed as, and archives it as a tar+gzip layer. It returns
// the layer and the executable's sha256.
func packLayer(b Binary, typ string, created time.Time, staging string) (oci.Blob, string, error) {
	dir := filepath.Join(staging, strings.ReplaceAll(platformString(b.Platform), "/", "-"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return oci.Blob{}, "", err
	}
	name := binaryNameFor(typ, b.Platform.OS)
	if err := copyFile(b.Path, filepath.Join(dir, name), 0o755); err != nil {
		return oci.Blob{}, "", err
	}
	sum, err := plugin.FileSHA256(filepath.Join(dir, name))
	if err != nil {
		return oci.Blob{}, "", err
	}
	layerPath := filepath.Join(dir, "layer.tar.gz")
	f, err := os.Create(layerPath)
	if err != nil {
		return oci.Blob{}, "", err
	}
	_, err = archive.WriteTarGz(f, dir, []string{name}, archive.WriteOptions{ModTime: created})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return oci.Blob{}, "", fmt.Errorf("packaging %s: %w", b.Path, err)
	}
	layerDigest, size, err := digestFile(layerPath)
	if err != nil {
		return oci.Blob{}, "", err
	}
	layer := ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageLayerGzip, Digest: layerDigest, Size: size,
		Annotations: map[string]string{ocispec.AnnotationTitle: filepath.Base(b.Path) + ".tar.gz"},
	}
	return oci.Blob{Desc: layer, Path: layerPath}, sum, nil
}

func binaryNameFor(typ, goos string) string {
	if goos == "windows" {
		return host.BinaryPrefix + typ + ".exe"
	}
	return host.BinaryPrefix + typ
}

func copyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, perm) // whatever the umask
}

func digestFile(path string) (digest.Digest, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	d := digest.SHA256.Digester()
	n, err := io.Copy(d.Hash(), f)
	return d.Digest(), n, err
}

// InstallOptions tune Install.
type InstallOptions struct {
	// Dir is the managed plugin folder (plugin.Options.ManagedDir).
	Dir string
	// Builtins lists types that cannot be installed: the host's own.
	Builtins []string
	// Force replaces a binary in Dir that has no pin.
	Force bool
	// Probe tunes the run of the plugin before it is pinned.
	Probe ProbeOptions
	// Now returns the install time; nil means time.Now.
	Now func() time.Time
	// Verify checks the plugin's signature (its index, root, in t) before
	// anything is fetched or run, and names the signer; an error refuses
	// the install. Nil installs unverified.
	Verify func(ctx context.Context, t *target.Target, root ocispec.Descriptor) (signer string, err error)
}

// Installed reports an install.
type Installed struct {
	Pin plugin.Pin `json:"pin"`
	// Path is the installed executable.
	Path string `json:"path"`
	// Replaced is the pin of the plugin it replaced, if any.
	Replaced *plugin.Pin `json:"replaced,omitempty"`
}

// Install installs the plugin t names for this machine's platform into
// opts.Dir and pins it. Nothing in opts.Dir changes unless every check
// passes.
func Install(ctx context.Context, t *target.Target, opts InstallOptions) (*Installed, error) {
	a, err := resolvePlugin(ctx, t, opts.Builtins)
	if err != nil {
		return nil, err
	}
	signer := ""
	if opts.Verify != nil {
		// Before the binary is fetched, let alone run to probe it.
		if signer, err = opts.Verify(ctx, t, a.root); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	staging, err := os.MkdirTemp(opts.Dir, ".install-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(staging)
	bin, sum, err := a.extract(ctx, t, staging)
	if err != nil {
		return nil, err
	}
	meta, err := a.probe(ctx, t, bin, opts.Probe)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	res := &Installed{
		Path: filepath.Join(opts.Dir, plugin.BinaryName(a.typ)),
		Pin: plugin.Pin{
			Type: a.typ, Version: meta.Version, Source: t.Ref.String(), Digest: a.root.Digest.String(),
			Manifest: a.md.Digest.String(), Platform: platformString(*a.md.Platform), SHA256: sum,
			Protocols: meta.Protocols, SDKVersion: meta.SDKVersion, Installed: now().UTC().Truncate(time.Second),
			Signer: signer, StandardUnpack: meta.StandardUnpack, InstallDir: meta.InstallDir,
		},
	}
	if err := pin(res, bin, opts); err != nil {
		return nil, err
	}
	return res, nil
}

// remotePlugin is a plugin artifact resolved for this machine's platform.
type remotePlugin struct {
	root ocispec.Descriptor
	idx  ocispec.Index
	// typ is the plugin type the index says.
	typ string
	// md is the index's entry for this platform, and man its manifest.
	md  ocispec.Descriptor
	man ocispec.Manifest
	// layer holds the executable.
	layer ocispec.Descriptor
}

// resolvePlugin resolves t to a plugin's index and reads the manifest for
// this machine's platform, refusing anything that is not a plugin as
// `tierpack plugin push` writes them, and plugins for the builtins types.
func resolvePlugin(ctx context.Context, t *target.Target, builtins []string) (*remotePlugin, error) {
	root, err := oci.ResolveDescriptor(ctx, t)
	if err != nil {
		return nil, err
	}
	a := &remotePlugin{root: root}
	if root.MediaType != ocispec.MediaTypeImageIndex {
		return nil, notPlugin(t, "it is a "+root.MediaType)
	}
	if err := fetchJSON(ctx, t, root, &a.idx); err != nil {
		return nil, err
	}
	if a.idx.ArtifactType != ArtifactType {
		return nil, notPlugin(t, fmt.Sprintf("its artifactType is %q", a.idx.ArtifactType))
	}
	a.typ = a.idx.Annotations[sdk.AnnotationPluginType]
	if !ValidType(a.typ) {
		return nil, notPlugin(t, fmt.Sprintf("its %s annotation %q is not a type name", sdk.AnnotationPluginType, a.typ))
	}
	if slices.Contains(builtins, a.typ) {
		return nil, fmt.Errorf("%s is a plugin for %q, which is built into tierpack and cannot be replaced", t.Ref, a.typ)
	}
	want := oci.CurrentPlatform()
	if a.md, err = selectPlatform(a.idx.Manifests, want); err != nil {
		return nil, fmt.Errorf("%s: %w", t.Ref, err)
	}
	if a.md.MediaType != ocispec.MediaTypeImageManifest {
		return nil, notPlugin(t, fmt.Sprintf("its %s entry is a %s", platformString(want), a.md.MediaType))
	}
	if err := fetchJSON(ctx, t, a.md, &a.man); err != nil {
		return nil, err
	}
	var layers []ocispec.Descriptor
	for _, l := range a.man.Layers {
		if l.MediaType != ocispec.MediaTypeEmptyJSON {
			layers = append(layers, l)
		}
	}
	if a.man.ArtifactType != ArtifactType || len(layers) != 1 || layers[0].MediaType != ocispec.MediaTypeImageLayerGzip {
		return nil, notPlugin(t, fmt.Sprintf("its %s manifest does not hold one tar+gzip layer", platformString(want)))
	}
	a.layer = layers[0]
	if a.layer.Size > MaxBinarySize {
		return nil, fmt.Errorf("%s: the %s layer is %d bytes, more than the %d tierpack installs", t.Ref, platformString(want), a.layer.Size, MaxBinarySize)
	}
	return a, nil
}

// selectPlatform returns the first entry for want's OS and architecture.
func selectPlatform(ms []ocispec.Descriptor, want ocispec.Platform) (ocispec.Descriptor, error) {
	var have []string
	for _, d := range ms {
		if d.Platform == nil {
			continue
		}
		if d.Platform.OS == want.OS && d.Platform.Architecture == want.Architecture {
			return d, nil
		}
		have = append(have, platformString(*d.Platform))
	}
	return ocispec.Descriptor{}, fmt.Errorf("%w: it has %s, not %s; ask its publisher for a %s build, or build the plugin from source and put it in $%s",
		ErrNoPlatform, strings.Join(have, ", "), platformString(want), platformString(want), plugin.DirEnv)
}

// notPlugin says that t is not a plugin, and why.
func notPlugin(t *target.Target, what string) error {
	return fmt.Errorf("%s is not a tierpack plugin: %s; plugins are image indexes with artifactType %s, as `tierpack plugin push` writes them", t.Ref, what, ArtifactType)
}

// extract downloads the layer into staging and extracts the executable,
// which must be the layer's one file and match the manifest's sha256. It
// returns the executable's path and sha256.
func (a *remotePlugin) extract(ctx context.Context, t *target.Target, staging string) (bin, sum string, err error) {
	out := filepath.Join(staging, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		return "", "", err
	}
	if err := fetchLayer(ctx, t, a.layer, filepath.Join(staging, "layer.tar.gz"), out); err != nil {
		return "", "", err
	}
	name := plugin.BinaryName(a.typ)
	files, err := sdk.ListFiles(out)
	if err != nil {
		return "", "", err
	}
	if len(files) != 1 || files[0] != name {
		return "", "", notPlugin(t, fmt.Sprintf("its layer holds %v, not the one file %s", files, name))
	}
	bin = filepath.Join(out, name)
	st, err := os.Lstat(bin)
	if err != nil {
		return "", "", err
	}
	if !st.Mode().IsRegular() {
		return "", "", notPlugin(t, name+" in its layer is not a regular file")
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		return "", "", err
	}
	if sum, err = plugin.FileSHA256(bin); err != nil {
		return "", "", err
	}
	if want := a.man.Annotations[AnnotationSHA256]; want != "" && want != sum {
		return "", "", fmt.Errorf("%s: the %s executable has sha256 %s, but its manifest says %s: the artifact is inconsistent; do not install it", t.Ref, platformString(*a.md.Platform), sum, want)
	}
	return bin, sum, nil
}

// probe runs the extracted executable once; what it says about itself must
// agree with the artifact.
func (a *remotePlugin) probe(ctx context.Context, t *target.Target, bin string, opts ProbeOptions) (Meta, error) {
	meta, err := Probe(ctx, bin, opts)
	if err != nil {
		return Meta{}, fmt.Errorf("%s does not run on this machine: %w", t.Ref, err)
	}
	if meta.Type != a.typ {
		return Meta{}, fmt.Errorf("%s: the plugin says it serves type %q, but the artifact says %q: do not install it", t.Ref, meta.Type, a.typ)
	}
	if v := a.idx.Annotations[ocispec.AnnotationVersion]; v != "" && v != meta.Version {
		return Meta{}, fmt.Errorf("%s: the plugin says it is version %s, but the artifact says %s: do not install it", t.Ref, meta.Version, v)
	}
	return meta, nil
}

// UnpinnedError is a plugin binary in the managed folder that tierpack did
// not install (it has no pin), in the way of an install.
type UnpinnedError struct{ Path string }

func (e *UnpinnedError) Error() string {
	return fmt.Sprintf("%s exists but was not installed by tierpack (it has no pin)", e.Path)
}

// pin moves bin into place as res.Path and records res.Pin in the folder's
// lock file, in one step under the lock. A binary there without a pin is
// replaced only with opts.Force.
func pin(res *Installed, bin string, opts InstallOptions) error {
	typ := res.Pin.Type
	return plugin.UpdateLock(opts.Dir, func(l *plugin.Lock) error {
		if old, ok := l.Plugins[typ]; ok {
			res.Replaced = &old
		} else if _, err := os.Lstat(res.Path); err == nil && !opts.Force {
			return &UnpinnedError{Path: res.Path}
		}
		if err := os.Rename(bin, res.Path); err != nil {
			return fmt.Errorf("installing %s: %w", res.Path, err)
		}
		l.Plugins[typ] = res.Pin
		return nil
	})
}

// Remove uninstalls the plugin for typ from the managed folder dir: its
// executable and its pin. It returns the pin removed. A type with neither
// gives an error wrapping host.ErrNotFound.
func Remove(dir, typ string) (*plugin.Pin, error) {
	if !ValidType(typ) {
		return nil, fmt.Errorf("%q is not a plugin type", typ)
	}
	path := filepath.Join(dir, plugin.BinaryName(typ))
	var removed *plugin.Pin
	err := plugin.UpdateLock(dir, func(l *plugin.Lock) error {
		pin, pinned := l.Plugins[typ]
		err := os.Remove(path)
		switch {
		case errors.Is(err, os.ErrNotExist) && !pinned:
			return fmt.Errorf("%w %q: none is installed in %s", host.ErrNotFound, typ, dir)
		case err != nil && !errors.Is(err, os.ErrNotExist):
			return err
		}
		if pinned {
			removed = &pin
			delete(l.Plugins, typ)
		}
		return nil
	})
	return removed, err
}

// fetchJSON fetches a manifest or index, verifying its digest and size.
func fetchJSON(ctx context.Context, t *target.Target, d ocispec.Descriptor, v any) error {
	if err := oci.FetchJSON(ctx, t.Store, d, oci.MaxManifestSize, v); err != nil {
		return fmt.Errorf("%s: fetching %s: %w", t.Ref, d.Digest, err)
	}
	return nil
}

// fetchLayer downloads the layer to file, verifying its digest, then
// extracts it into out.
func fetchLayer(ctx context.Context, t *target.Target, d ocispec.Descriptor, file, out string) error {
	err := oci.FetchFile(ctx, t.Store, d, file, oci.FetchOptions{})
	switch {
	case errors.Is(err, content.ErrMismatchedDigest):
		return fmt.Errorf("%s: layer %s does not match its digest (%v): do not install it", t.Ref, d.Digest, err)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, content.ErrTrailingData):
		return fmt.Errorf("%s: layer %s does not match its descriptor (%v): do not install it", t.Ref, d.Digest, err)
	case err != nil:
		return fmt.Errorf("%s: fetching layer %s: %w", t.Ref, d.Digest, err)
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := archive.Extract(ctx, f, out, archive.Limits{MaxFileSize: MaxBinarySize, MaxTotalSize: MaxBinarySize, MaxEntries: 16}); err != nil {
		return fmt.Errorf("%s: layer %s: %w", t.Ref, d.Digest, err)
	}
	return nil
}

// Verify re-checks an installed plugin against what it was installed
// from (t names the pinned index by digest): the index is still signed by
// a key verify trusts now (keys may have been revoked since), the signed
// index still leads to a build whose sha256 is the pin's, and the
// installed executable at bin is still that build. It returns the signer.
func Verify(ctx context.Context, t *target.Target, pin plugin.Pin, bin string, verify func(context.Context, *target.Target, ocispec.Descriptor) (string, error)) (string, error) {
	a, err := resolvePlugin(ctx, t, nil)
	if err != nil {
		return "", err
	}
	if a.root.Digest.String() != pin.Digest {
		return "", fmt.Errorf("%s resolves to %s, not the pinned %s", t.Ref, a.root.Digest, pin.Digest)
	}
	signer, err := verify(ctx, t, a.root)
	if err != nil {
		return "", err
	}
	if want := a.man.Annotations[AnnotationSHA256]; want != pin.SHA256 {
		return signer, fmt.Errorf("%w: the signed plugin's %s build has sha256 %q, but %s was pinned", plugin.ErrTampered, platformString(*a.md.Platform), want, pin.SHA256)
	}
	sum, err := plugin.FileSHA256(bin)
	if err != nil {
		return signer, fmt.Errorf("%w: %v", plugin.ErrTampered, err)
	}
	if sum != pin.SHA256 {
		return signer, fmt.Errorf("%w: %s has sha256 %s, not the signed build's %s: the binary was modified or replaced since it was installed", plugin.ErrTampered, bin, sum, pin.SHA256)
	}
	return signer, nil
}
