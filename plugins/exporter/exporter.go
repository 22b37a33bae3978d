// Package exporter is the built-in plugin for "exporter" contributions:
// long-running binaries that serve Prometheus metrics, such as
// falco-exporter, shipped prebuilt for several platforms.
//
// # The contribution
//
// A contribution holds one prebuilt binary per platform and declares them
// in tierpack.yaml's spec:
//
//	type: exporter
//	spec:
//	  binaries:                      # platform (os/arch[/variant]) → binary
//	    linux/amd64: bin/linux-amd64/falco-demo-exporter
//	    linux/arm64: bin/linux-arm64/falco-demo-exporter
//	  port: 9376                     # the TCP port it listens on (required)
//	  metricsPath: /metrics          # default /metrics
//	  args: ["--listen-address=:9376"]   # default arguments
//	  binary: falco-demo-exporter    # installed name; default: the contribution's name
//	  user: "65534:65534"            # the image's user; default nobody
//	  build: make examples           # how to build the binaries, shown when one is missing
//
// Binaries are build outputs: they are usually not committed, so a missing
// one is an error whose hint is spec.build.
//
// # Validation
//
// Each binary's header (debug/elf, debug/macho, debug/pe) must match the
// platform it is declared for: the CPU architecture, the operating system
// as far as the format tells it (ELF's OS ABI and BSD notes, Mach-O for
// darwin, PE for windows) and, for Go binaries, the GOOS, GOARCH and GOARM
// recorded in their build information. It must be an executable — not a
// script, text file, shared library or object file — and, except for
// Windows, have an execute bit. A dynamically linked ELF executable is a
// warning: the image has no C library, so it runs with tierpack pull but not
// in a container. A platform other than Linux is an info: container runtimes
// only run Linux images without a base layer, so such a manifest is for
// tierpack pull.
//
// # The artifact
//
// Package writes one runnable container image per platform, which the host
// assembles into an OCI image index:
//
//   - an image config (application/vnd.oci.image.config.v1+json) with the
//     platform, rootfs.diff_ids, Entrypoint /usr/local/bin/NAME, Cmd = args,
//     ExposedPorts PORT/tcp, User, a PATH, a history entry, and Labels
//     carrying the tier (dev.tierpack.tier), type, name, the exporter's
//     port and metrics path (dev.tierpack.exporter.*) and
//     org.opencontainers.image.{title,version,description,licenses,source,revision};
//     "created" is set only when the host passes SOURCE_DATE_EPOCH;
//   - one deterministic tar+gzip layer holding usr/local/bin/NAME (mode
//     0755, owner 0:0, mtime SOURCE_DATE_EPOCH or the epoch), so the same
//     binaries always give the same digests.
//
// With one platform declared, the host pushes that image's manifest alone
// rather than an index of one (pkg/artifact builds an index only for several
// manifests): still a runnable image, with the type in its annotations.
//
// The platform manifests have no artifactType: they are plain images that
// docker, podman, containerd and skopeo pull and run like any other. The
// index carries artifactType application/vnd.tierpack.exporter.v1 (the
// plugin's Describe), as the design asks for one artifactType per
// contribution type: image-spec v1.1 allows artifactType on an index,
// runtimes ignore it when they select a platform (skopeo and umoci are
// tested on it), and it lets registry UIs, `oras discover` filters and
// tierpack itself tell a tiered exporter from an arbitrary image without
// reading its annotations.
//
// # Pulling
//
// Unpack installs the selected platform's binary into the output folder
// under the name the image's entrypoint gives it, with its execute bits, and
// writes exporter.json beside it (see RunInfo): the arguments, port, metrics
// path and URL to run it with, for people and for tools that generate a
// service unit. `tierpack pull --all-platforms` calls Unpack once per
// platform, each into a subfolder named OS-ARCH.
package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tierpack/tierpack/sdk"
)

// Type is the contribution type this plugin serves.
const Type = "exporter"

// ArtifactType is the OCI artifactType of an exporter's image index. Its
// platform manifests have none, so that they are plain container images.
const ArtifactType = "application/vnd.tierpack.exporter.v1"

// Version is the plugin's version.
const Version = "0.1.0"

// Defaults for the optional spec fields.
const (
	// DefaultMetricsPath is where Prometheus exporters conventionally serve.
	DefaultMetricsPath = "/metrics"
	// DefaultUser is nobody: an exporter reads metrics, it does not need root.
	DefaultUser = "65534:65534"
)

// BinDir is the folder of the image that holds the exporter's binary.
const BinDir = "/usr/local/bin"

// Spec is the exporter type's `spec` section in tierpack.yaml.
type Spec struct {
	// Binaries maps each platform, written os/arch or os/arch/variant as in
	// the OCI image spec (linux/amd64, linux/arm/v7), to the prebuilt binary
	// for it, a path relative to the contribution folder.
	Binaries map[string]string `json:"binaries"`
	// Binary is the file name of the exporter in the image (in BinDir) and
	// after tierpack pull; default: the contribution's name. Windows
	// binaries get ".exe" appended.
	Binary string `json:"binary,omitempty"`
	// Port is the TCP port the exporter listens on with Args; required.
	Port int `json:"port"`
	// MetricsPath is the HTTP path of the metrics; default /metrics.
	MetricsPath string `json:"metricsPath,omitempty"`
	// Args are the exporter's default arguments: the image's Cmd, which
	// `docker run IMAGE ARGS…` replaces.
	Args []string `json:"args,omitempty"`
	// User is the user (and group) the image runs as; default DefaultUser.
	User string `json:"user,omitempty"`
	// Build is the command that builds the binaries; validation shows it
	// when one is missing.
	Build string `json:"build,omitempty"`
}

// Plugin implements sdk.Packager for exporters.
type Plugin struct{}

var _ sdk.Packager = Plugin{}

// Describe implements sdk.Packager.
func (Plugin) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Type:         Type,
		Version:      Version,
		ArtifactType: ArtifactType,
		MediaTypes:   []string{mediaTypeImageConfig, sdk.MediaTypeLayerTarGzip},
		FilePatterns: []string{"bin/*/*"},
		Description:  "Prometheus exporters: prebuilt binaries per platform, pushed as a multi-platform runnable image",
	}, nil
}

// target is one platform's binary, as the spec declares it.
type target struct {
	key      string // the spec.binaries key as written
	platform sdk.Platform
	path     string // slash path relative to the contribution
}

// dirName is the platform as one path element, os-arch[-variant]: the
// staging folder Package writes its files to, named like the subfolder
// `tierpack pull --all-platforms` unpacks it into.
func (t target) dirName() string { return strings.ReplaceAll(t.platform.String(), "/", "-") }

// knownOS and knownArch are the GOOS and GOARCH values an exporter can be
// built for; a typo such as linux/x86_64 is caught instead of producing a
// manifest no runtime selects.
var (
	knownOS   = []string{"aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "linux", "netbsd", "openbsd", "plan9", "solaris", "windows"}
	knownArch = []string{"386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle", "ppc64", "ppc64le", "riscv64", "s390x"}
	// archAliases are other names for GOARCH values.
	archAliases = map[string]string{"x86_64": "amd64", "x86-64": "amd64", "x64": "amd64", "aarch64": "arm64", "i386": "386", "i686": "386", "x86": "386", "armhf": "arm", "armv7": "arm", "armv7l": "arm", "armv6": "arm", "ppc64el": "ppc64le"}
	osAliases   = map[string]string{"macos": "darwin", "osx": "darwin", "win": "windows", "win32": "windows"}
	variantRE   = regexp.MustCompile(`^v[0-9]+$`)
	binaryRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
)

// parsePlatform parses a spec.binaries key.
func parsePlatform(s string) (sdk.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return sdk.Platform{}, fmt.Errorf("platform %q: write it os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm/v7", s)
	}
	p := sdk.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	if !slices.Contains(knownOS, p.OS) {
		if alias, ok := osAliases[strings.ToLower(p.OS)]; ok {
			return p, fmt.Errorf("platform %q: %q is not an OCI operating system: use %q", s, p.OS, alias)
		}
		return p, fmt.Errorf("platform %q: %q is not an operating system Go builds for (%s)", s, p.OS, strings.Join(knownOS, ", "))
	}
	if !slices.Contains(knownArch, p.Architecture) {
		if alias, ok := archAliases[strings.ToLower(p.Architecture)]; ok {
			return p, fmt.Errorf("platform %q: %q is not an OCI architecture: use %q", s, p.Architecture, alias)
		}
		return p, fmt.Errorf("platform %q: %q is not an architecture Go builds for (%s)", s, p.Architecture, strings.Join(knownArch, ", "))
	}
	if p.Variant != "" && !variantRE.MatchString(p.Variant) {
		return p, fmt.Errorf("platform %q: variant %q is not of the form v7, v8", s, p.Variant)
	}
	return p, nil
}

// decoded is a checked spec with its defaults filled in.
type decoded struct {
	Spec
	targets []target
}

// decode decodes and checks the spec, reporting every problem at once with
// the line of tierpack.yaml it concerns.
func decode(c sdk.Contribution) (decoded, []sdk.Diagnostic) {
	var d decoded
	lines := specLines(c.ManifestYAML)
	errorf := func(field, format string, args ...any) sdk.Diagnostic {
		return sdk.Errorf("tierpack.yaml", lines.line(field), format, args...)
	}
	if err := c.DecodeSpec(&d.Spec); err != nil {
		return d, []sdk.Diagnostic{errorf("", "%v", err).
			WithHint("the exporter type's spec has the fields binaries, port, metricsPath, args, binary, user and build")}
	}
	var diags []sdk.Diagnostic
	if len(d.Binaries) == 0 {
		diags = append(diags, errorf("binaries", "spec.binaries is required: it maps each platform to its prebuilt binary").
			WithHint("e.g. binaries: {linux/amd64: bin/linux-amd64/%s, linux/arm64: bin/linux-arm64/%s}", c.Name, c.Name))
	}
	if d.Binary == "" {
		d.Binary = c.Name
	}
	if !binaryRE.MatchString(d.Binary) || strings.HasSuffix(strings.ToLower(d.Binary), ".exe") || d.Binary == RunInfoFile {
		diags = append(diags, errorf("binary", "spec.binary %q is not a usable file name", d.Binary).
			WithHint("use letters, digits, '.', '_', '+' and '-', without .exe (added for Windows) and other than %s", RunInfoFile))
	}
	switch {
	case d.Port == 0:
		diags = append(diags, errorf("port", "spec.port is required: the TCP port the exporter listens on").
			WithHint("e.g. port: 9376; it becomes the image's exposed port"))
	case d.Port < 1 || d.Port > 65535:
		diags = append(diags, errorf("port", "spec.port %d is not a TCP port (1-65535)", d.Port))
	}
	if d.MetricsPath == "" {
		d.MetricsPath = DefaultMetricsPath
	}
	if !strings.HasPrefix(d.MetricsPath, "/") || strings.ContainsAny(d.MetricsPath, " \t\n?#") {
		diags = append(diags, errorf("metricsPath", "spec.metricsPath %q is not a URL path", d.MetricsPath).
			WithHint("use an absolute path such as /metrics"))
	}
	if d.User == "" {
		d.User = DefaultUser
	}
	if strings.ContainsAny(d.User, " \t\n") {
		diags = append(diags, errorf("user", "spec.user %q is not a user: use NAME, UID or UID:GID", d.User))
	}
	for _, key := range sortedKeys(d.Binaries) {
		field := "binaries." + key
		p, err := parsePlatform(key)
		if err != nil {
			diags = append(diags, errorf(field, "spec.binaries: %v", err))
			continue
		}
		rel := d.Binaries[key]
		if err := checkRelPath(rel); err != nil {
			diags = append(diags, errorf(field, "spec.binaries: %s: %v", key, err))
			continue
		}
		d.targets = append(d.targets, target{key: key, platform: p, path: path.Clean(rel)})
	}
	for i, t := range d.targets {
		for _, u := range d.targets[:i] {
			if t.dirName() == u.dirName() {
				diags = append(diags, errorf("binaries."+t.key, "spec.binaries: %q and %q are the same platform", u.key, t.key))
			}
		}
	}
	return d, diags
}

// checkRelPath refuses paths that leave the contribution folder.
func checkRelPath(p string) error {
	switch {
	case p == "":
		return errors.New("the path is empty")
	case strings.Contains(p, `\`):
		return fmt.Errorf("%q: use '/' to separate path elements", p)
	case path.IsAbs(p) || filepath.IsAbs(p) || filepath.VolumeName(p) != "":
		return fmt.Errorf("%q is absolute: paths are relative to the contribution folder", p)
	case !fs.ValidPath(path.Clean(p)):
		return fmt.Errorf("%q leaves the contribution folder: paths must stay inside it", p)
	}
	return nil
}

// installedName is the binary's file name in the image and after pull.
func (d decoded) installedName(p sdk.Platform) string {
	if p.OS == "windows" {
		return d.Binary + ".exe"
	}
	return d.Binary
}

// Validate implements sdk.Packager.
func (Plugin) Validate(ctx context.Context, req sdk.ValidateRequest) ([]sdk.Diagnostic, error) {
	d, diags := decode(req.Contribution)
	if sdk.Count(diags, sdk.SeverityError) > 0 && len(d.targets) == 0 {
		return diags, nil
	}
	root, err := os.OpenRoot(req.Dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	lines := specLines(req.Contribution.ManifestYAML)
	for _, t := range d.targets {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		declared := fmt.Sprintf("tierpack.yaml declares %s", t.platform)
		if l := lines.line("binaries." + t.key); l > 0 {
			declared = fmt.Sprintf("tierpack.yaml:%d declares %s", l, t.platform)
		}
		diags = append(diags, checkTarget(root, d, t, declared)...)
	}
	return diags, nil
}

// checkTarget checks one platform's binary; declared says where tierpack.yaml
// declares it, for messages.
func checkTarget(root *os.Root, d decoded, t target, declared string) []sdk.Diagnostic {
	errorf := func(format string, args ...any) []sdk.Diagnostic {
		return []sdk.Diagnostic{sdk.Errorf(t.path, 0, format, args...)}
	}
	f, err := root.Open(filepath.FromSlash(t.path))
	if errors.Is(err, fs.ErrNotExist) {
		dg := sdk.Errorf(t.path, 0, "the %s binary does not exist: binaries are build outputs, build them before validating or pushing", t.platform)
		if d.Build != "" {
			return []sdk.Diagnostic{dg.WithHint("build them with `%s`", d.Build)}
		}
		return []sdk.Diagnostic{dg.WithHint("build it, e.g. CGO_ENABLED=0 GOOS=%s GOARCH=%s go build -o %s ., and set spec.build to the command that builds them",
			t.platform.OS, t.platform.Architecture, t.path)}
	}
	if err != nil {
		return errorf("cannot open the %s binary: %v", t.platform, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return errorf("cannot read the %s binary: %v", t.platform, err)
	}
	if !st.Mode().IsRegular() {
		return errorf("the %s binary is not a regular file (%s)", t.platform, st.Mode().Type())
	}
	info, err := inspectBinary(f)
	var nb errNotBinary
	if errors.As(err, &nb) {
		return []sdk.Diagnostic{sdk.Errorf(t.path, 0, "%s", nb.what).
			WithHint("%s: point it at the compiled exporter for that platform", declared)}
	}
	if err != nil {
		return errorf("%v", err)
	}
	var diags []sdk.Diagnostic
	mismatch := func(format string, args ...any) {
		diags = append(diags, sdk.Errorf(t.path, 0, format, args...).
			WithHint("rebuild it for %s (a Go exporter: CGO_ENABLED=0 GOOS=%s GOARCH=%s go build), or declare the platform it was built for",
				t.platform, t.platform.OS, t.platform.Architecture))
	}
	if info.NotExecutable != "" {
		diags = append(diags, sdk.Errorf(t.path, 0, "is %s, not an executable", info.NotExecutable).
			WithHint("point spec.binaries at the linked exporter binary"))
	}
	wantOS, wantArch := t.platform.OS, t.platform.Architecture
	switch {
	case info.Format == "ELF" && !slices.Contains(elfOSes, wantOS):
		mismatch("is an ELF binary (Linux or BSD) but %s", declared)
	case info.Format == "Mach-O" && wantOS != "darwin" && wantOS != "ios":
		mismatch("is a Mach-O binary (macOS) but %s", declared)
	case info.Format == "PE" && wantOS != "windows":
		mismatch("is a PE binary (Windows) but %s", declared)
	case len(info.OSes) > 0 && !slices.Contains(info.OSes, wantOS):
		mismatch("%s OS ABI is %s but %s", info.Format, info.OSes[0], declared)
	case info.Go["GOOS"] != "" && info.Go["GOOS"] != wantOS && !(wantOS == "android" && info.Go["GOOS"] == "linux"):
		mismatch("Go build info says GOOS=%s but %s", info.Go["GOOS"], declared)
	}
	switch {
	case !slices.Contains(info.Arches, wantArch):
		mismatch("%s machine is %s but %s", info.Format, info.Machine, declared)
	case info.Go["GOARCH"] != "" && info.Go["GOARCH"] != wantArch:
		mismatch("Go build info says GOARCH=%s but %s", info.Go["GOARCH"], declared)
	case wantArch == "arm" && t.platform.Variant != "" && info.Go["GOARM"] != "":
		if goarm, _, _ := strings.Cut(info.Go["GOARM"], ","); "v"+goarm != t.platform.Variant {
			mismatch("Go build info says GOARM=%s but %s", info.Go["GOARM"], declared)
		}
	}
	if wantOS != "windows" && runtime.GOOS != "windows" && st.Mode().Perm()&0o111 == 0 {
		diags = append(diags, sdk.Errorf(t.path, 0, "is not executable (mode %s)", st.Mode().Perm()).
			WithHint("run chmod +x %s", t.path))
	}
	if info.Interpreter != "" {
		hint := "link it statically"
		if info.Go != nil {
			hint = "build it with CGO_ENABLED=0"
		}
		diags = append(diags, sdk.Warnf(t.path, 0, "is dynamically linked (loader %s): tierpack pull installs it, but its image has no C library, so containers cannot run it", info.Interpreter).
			WithHint("%s", hint))
	}
	if wantOS != "linux" && len(diags) == 0 {
		diags = append(diags, sdk.Diagnostic{Severity: sdk.SeverityInfo, File: t.path,
			Message: fmt.Sprintf("container runtimes run only Linux images without a base layer: the %s image is for tierpack pull", t.platform)})
	}
	return diags
}

// lineIndex maps spec field paths ("port", "binaries.linux/amd64") to
// their line in tierpack.yaml.
type lineIndex map[string]int

func (l lineIndex) line(field string) int {
	if n, ok := l[field]; ok {
		return n
	}
	return l[""]
}

// specLines finds the lines of the spec section's fields; "" is the line
// of spec itself.
func specLines(manifest []byte) lineIndex {
	lines := lineIndex{}
	var doc yaml.Node
	if yaml.Unmarshal(manifest, &doc) != nil || len(doc.Content) == 0 {
		return lines
	}
	spec := mapValue(doc.Content[0], "spec", func(k *yaml.Node) { lines[""] = k.Line })
	if spec == nil {
		return lines
	}
	for i := 0; i+1 < len(spec.Content); i += 2 {
		k, v := spec.Content[i], spec.Content[i+1]
		lines[k.Value] = k.Line
		if k.Value == "binaries" && v.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(v.Content); j += 2 {
				lines["binaries."+v.Content[j].Value] = v.Content[j].Line
			}
		}
	}
	return lines
}

// mapValue returns the value of key in mapping n, calling found with the
// key node.
func mapValue(n *yaml.Node, key string, found func(*yaml.Node)) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			found(n.Content[i])
			return n.Content[i+1]
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// copyFile copies src to dst, creating dst with mode perm.
func copyFile(src io.Reader, dst string, perm fs.FileMode) (int64, error) {
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, src)
	if err != nil {
		out.Close()
		return n, err
	}
	return n, out.Close()
}
