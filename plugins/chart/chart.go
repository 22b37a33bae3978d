// Package chart is the built-in plugin for Helm charts.
//
// A chart contribution is a chart folder (Chart.yaml, values.yaml,
// templates/, charts/) with a tierpack.yaml beside Chart.yaml, or a
// tierpack.yaml whose spec.chart names the chart's folder.
//
// Validation is Helm's own: the chart loader (Chart.yaml, semver version,
// .helmignore) and the linter (values, templates rendered with default
// values, dependencies present), with Helm's findings turned into
// diagnostics carrying file and line where Helm gives them. tierpack.yaml's
// name and version must match Chart.yaml's, so the OCI tag Helm users see is
// the chart version.
//
// Packaging is what `helm package` + `helm push` do: the chart archive that
// Helm's chartutil.Save writes (re-encoded with fixed timestamps so the same
// chart always gives the same digest), Helm's config media type with
// Chart.yaml's metadata as JSON, Helm's chart layer media type, and the
// org.opencontainers.image.* annotations helm push writes. `helm pull
// oci://…`, `helm show chart oci://…` and `helm install oci://…` work on
// what tierpack pushes.
//
// Unpack extracts the chart into the output folder (Chart.yaml at its top),
// or, with the option keep-archive=true, writes the chart's .tgz there as
// `helm pull` would.
package chart

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
)

// Type is the contribution type this plugin serves.
const Type = "chart"

// Version is the plugin's version.
const Version = "0.1.0"

// OptionKeepArchive, set to "true" in Unpack's options, keeps the chart as
// its .tgz instead of extracting it.
const OptionKeepArchive = "keep-archive"

// Spec is the chart type's `spec` section in tierpack.yaml.
type Spec struct {
	// Chart is the chart's folder, relative to the contribution; default ".".
	Chart string `json:"chart,omitempty"`
	// Namespace used when rendering templates during validation; default
	// "default".
	Namespace string `json:"namespace,omitempty"`
}

// Plugin implements sdk.Packager for Helm charts.
type Plugin struct{}

var _ sdk.Packager = Plugin{}

// Describe implements sdk.Packager.
func (Plugin) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Type:         Type,
		Version:      Version,
		ArtifactType: sdk.MediaTypeHelmConfig,
		MediaTypes:   []string{sdk.MediaTypeHelmConfig, sdk.MediaTypeHelmChart},
		FilePatterns: []string{"Chart.yaml", "values.yaml", "templates/*", "charts/*"},
		Description:  "Helm charts, pushed the way helm push does (helm pull/install work on them)",
	}, nil
}

func spec(c sdk.Contribution) (Spec, error) {
	var s Spec
	if err := c.DecodeSpec(&s); err != nil {
		return s, err
	}
	if s.Chart == "" {
		s.Chart = "."
	}
	if s.Namespace == "" {
		s.Namespace = "default"
	}
	return s, nil
}

// chartDir returns the chart folder and its path relative to the contribution.
func chartDir(dir string, s Spec) (abs, rel string, err error) {
	rel = path.Clean(filepath.ToSlash(s.Chart))
	if path.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", "", fmt.Errorf("spec.chart %q must be a folder inside the contribution", s.Chart)
	}
	return filepath.Join(dir, filepath.FromSlash(rel)), rel, nil
}

// relFile joins the chart's folder and a path inside it, as a diagnostic's file.
func relFile(chartRel, p string) string {
	if chartRel == "." {
		return p
	}
	return path.Join(chartRel, p)
}

// Validate implements sdk.Packager.
func (Plugin) Validate(ctx context.Context, req sdk.ValidateRequest) ([]sdk.Diagnostic, error) {
	s, err := spec(req.Contribution)
	if err != nil {
		return []sdk.Diagnostic{sdk.Errorf("tierpack.yaml", 0, "%v", err).WithHint("the chart type's spec has the fields chart and namespace")}, nil
	}
	dir, rel, err := chartDir(req.Dir, s)
	if err != nil {
		return []sdk.Diagnostic{sdk.Errorf("tierpack.yaml", 0, "%v", err)}, nil
	}
	if _, err := os.Stat(filepath.Join(dir, chartutil.ChartfileName)); err != nil {
		return []sdk.Diagnostic{sdk.Errorf(relFile(rel, "Chart.yaml"), 0, "no Chart.yaml: this is not a Helm chart folder").
			WithHint("run `helm create NAME` or set spec.chart to the chart's folder")}, nil
	}
	var diags []sdk.Diagnostic
	c, err := loader.LoadDir(dir)
	if err != nil {
		return append(diags, helmDiagnostic(rel, support.ErrorSev, "Chart.yaml", err)), nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	missing := missingDependencies(c)
	for _, dep := range missing {
		diags = append(diags, sdk.Errorf(relFile(rel, "Chart.yaml"), lineOf(dir, "name: "+dep), "dependency %q is not in charts/", dep).
			WithHint("run `helm dependency update %s` before packaging", dir))
	}
	linter := lint.RunAll(dir, nil, s.Namespace)
	for _, m := range linter.Messages {
		if len(missing) > 0 && strings.Contains(m.Err.Error(), "missing these dependencies") {
			continue // reported above, as the error helm package makes of it
		}
		p := m.Path
		if filepath.IsAbs(p) {
			if r, err := filepath.Rel(dir, p); err == nil {
				p = filepath.ToSlash(r)
			}
			if p == "." {
				p = "Chart.yaml"
			}
		}
		diags = append(diags, helmDiagnostic(rel, m.Severity, p, m.Err))
	}
	if c.Metadata != nil {
		if n := req.Contribution.Name; n != "" && n != c.Metadata.Name {
			diags = append(diags, sdk.Errorf("tierpack.yaml", 0, "name %q differs from Chart.yaml's name %q", n, c.Metadata.Name).
				WithHint("use the chart's name, so Helm users find it under the same name"))
		}
		if v := req.Contribution.Version; v != "" && v != c.Metadata.Version {
			diags = append(diags, sdk.Errorf("tierpack.yaml", 0, "version %q differs from Chart.yaml's version %q", v, c.Metadata.Version).
				WithHint("the OCI tag is the chart version; make them equal"))
		}
	}
	return diags, nil
}

// missingDependencies lists the dependencies Chart.yaml declares that are
// not in charts/: `helm package` refuses such a chart.
func missingDependencies(c *chart.Chart) []string {
	have := map[string]bool{}
	for _, d := range c.Dependencies() {
		have[d.Name()] = true
	}
	var missing []string
	for _, d := range c.Metadata.Dependencies {
		if d != nil && !have[d.Name] {
			missing = append(missing, d.Name)
		}
	}
	return missing
}

// lineOf returns the 1-based line of the first occurrence of s in the
// chart's Chart.yaml, or 0.
func lineOf(dir, s string) int {
	b, err := os.ReadFile(filepath.Join(dir, chartutil.ChartfileName))
	if err != nil {
		return 0
	}
	i := bytes.Index(b, []byte(s))
	if i < 0 {
		return 0
	}
	return 1 + bytes.Count(b[:i], []byte("\n"))
}

// Helm reports template errors as "template: NAME/templates/x.yaml:12:3: ..."
// and YAML errors as "... line 12: ..."; pull the file and line out.
var (
	templateLoc = regexp.MustCompile(`(?:template: |parse error at \()[^/:\s]+/([^:\s)]+):(\d+)(?::(\d+))?`)
	yamlLoc     = regexp.MustCompile(`line (\d+)`)
	// Helm's loader says which file it could not read: "cannot load
	// values.yaml: ..."; the line in the message is that file's.
	loadLoc = regexp.MustCompile(`^cannot load ([^:\s]+): `)
)

func helmDiagnostic(chartRel string, sev int, p string, err error) sdk.Diagnostic {
	d := sdk.Diagnostic{Message: err.Error()}
	switch sev {
	case support.ErrorSev:
		d.Severity = sdk.SeverityError
	case support.WarningSev:
		d.Severity = sdk.SeverityWarning
	default:
		d.Severity = sdk.SeverityInfo
	}
	file := strings.TrimSuffix(p, "/")
	if m := loadLoc.FindStringSubmatch(d.Message); m != nil {
		file = m[1]
	}
	if m := templateLoc.FindStringSubmatch(d.Message); m != nil {
		file = m[1]
		d.Line, _ = strconv.Atoi(m[2])
		if m[3] != "" {
			d.Column, _ = strconv.Atoi(m[3])
		}
	} else if m := yamlLoc.FindStringSubmatch(d.Message); m != nil {
		d.Line, _ = strconv.Atoi(m[1])
	}
	if file != "" {
		d.File = relFile(chartRel, file)
	}
	return d
}

// Package implements sdk.Packager.
func (Plugin) Package(ctx context.Context, req sdk.PackageRequest) (sdk.PackageResult, error) {
	s, err := spec(req.Contribution)
	if err != nil {
		return sdk.PackageResult{}, err
	}
	dir, _, err := chartDir(req.Dir, s)
	if err != nil {
		return sdk.PackageResult{}, err
	}
	c, err := loader.LoadDir(dir)
	if err != nil {
		return sdk.PackageResult{}, err
	}
	// tierpack's own files are not part of the chart.
	kept := c.Files[:0]
	for _, f := range c.Files {
		if f.Name != "tierpack.yaml" {
			kept = append(kept, f)
		}
	}
	c.Files = kept

	tmp, err := os.MkdirTemp(req.StagingDir, "helm-")
	if err != nil {
		return sdk.PackageResult{}, err
	}
	saved, err := chartutil.Save(c, tmp)
	if err != nil {
		return sdk.PackageResult{}, fmt.Errorf("helm package: %w", err)
	}
	name := filepath.Base(saved) // NAME-VERSION.tgz, as helm package names it
	if err := normalize(saved, filepath.Join(req.StagingDir, name), time.Unix(req.SourceDateEpoch, 0)); err != nil {
		return sdk.PackageResult{}, err
	}
	if err := os.RemoveAll(tmp); err != nil {
		return sdk.PackageResult{}, err
	}
	cfg, err := json.Marshal(c.Metadata) // exactly what helm push stores
	if err != nil {
		return sdk.PackageResult{}, err
	}
	if err := os.WriteFile(filepath.Join(req.StagingDir, "config.json"), cfg, 0o644); err != nil {
		return sdk.PackageResult{}, err
	}
	return sdk.PackageResult{
		Manifests: []sdk.Manifest{{
			Config: &sdk.Blob{MediaType: sdk.MediaTypeHelmConfig, Path: "config.json"},
			Layers: []sdk.Blob{{MediaType: sdk.MediaTypeHelmChart, Path: name}},
			// helm push writes no artifactType: the config media type says it.
			ArtifactType: "-",
		}},
		Annotations: ociAnnotations(c.Metadata),
	}, nil
}

// ociAnnotations mirrors helm push's manifest annotations (without
// created, which the host sets from SOURCE_DATE_EPOCH).
func ociAnnotations(m *chart.Metadata) map[string]string {
	a := map[string]string{}
	for k, v := range m.Annotations {
		a[k] = v
	}
	set := func(k, v string) {
		if v != "" {
			a[k] = v
		}
	}
	set("org.opencontainers.image.description", m.Description)
	set("org.opencontainers.image.title", m.Name)
	set("org.opencontainers.image.version", m.Version)
	set("org.opencontainers.image.url", m.Home)
	if len(m.Sources) > 0 {
		set("org.opencontainers.image.source", m.Sources[0])
	}
	var authors []string
	for _, mt := range m.Maintainers {
		if mt == nil {
			continue
		}
		s := mt.Name
		if mt.Email != "" {
			s += " (" + mt.Email + ")"
		}
		authors = append(authors, s)
	}
	set("org.opencontainers.image.authors", strings.Join(authors, ", "))
	return a
}

// normalize re-encodes a Helm chart archive with every timestamp set to
// mtime and a bare gzip header: chartutil.Save stamps entries with the
// current time, which would give every push a new digest.
func normalize(src, dst string, mtime time.Time) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	tw := tar.NewWriter(zw)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("re-reading the chart archive: %w", err)
		}
		nh := &tar.Header{Name: h.Name, Typeflag: h.Typeflag, Mode: h.Mode, Size: h.Size, ModTime: mtime, Format: tar.FormatPAX}
		if len(h.Name) < 100 {
			nh.Format = tar.FormatUSTAR
		}
		if err := tw.WriteHeader(nh); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}

// Unpack implements sdk.Packager.
func (Plugin) Unpack(ctx context.Context, req sdk.UnpackRequest) (sdk.UnpackResult, error) {
	var layer *sdk.Blob
	for i := range req.Layers {
		switch req.Layers[i].MediaType {
		case sdk.MediaTypeHelmChart:
			layer = &req.Layers[i]
		case sdk.MediaTypeHelmProvenance:
		default:
			// Like helm pull: skip what is not part of the chart.
		}
	}
	if layer == nil {
		return sdk.UnpackResult{}, fmt.Errorf("the artifact has no %s layer: it is not a Helm chart", sdk.MediaTypeHelmChart)
	}
	src := filepath.Join(req.BlobsDir, filepath.FromSlash(layer.Path))
	if req.Options[OptionKeepArchive] == "true" {
		name := chartArchiveName(req, src)
		if err := copyFile(src, filepath.Join(req.OutputDir, name)); err != nil {
			return sdk.UnpackResult{}, err
		}
		return sdk.UnpackResult{Files: []string{name}}, nil
	}
	// The archive holds NAME/...; extract it aside, inside the output (the
	// one folder a sandboxed plugin may write), and lift NAME/ into place.
	tmp, err := os.MkdirTemp(req.OutputDir, ".chart-")
	if err != nil {
		return sdk.UnpackResult{}, err
	}
	defer os.RemoveAll(tmp)
	f, err := os.Open(src)
	if err != nil {
		return sdk.UnpackResult{}, err
	}
	// One budget for the whole pull, and a chart layer must be gzip.
	err = archive.ExtractWith(ctx, f, tmp, archive.ExtractOptions{Budget: sdk.UnpackBudget(req, archive.Limits{}), Format: archive.FormatGzip})
	f.Close()
	if err != nil {
		return sdk.UnpackResult{}, fmt.Errorf("chart archive: %w", err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return sdk.UnpackResult{}, err
	}
	if len(entries) != 1 || !entries[0].IsDir() {
		return sdk.UnpackResult{}, errors.New("chart archive does not hold exactly one chart folder")
	}
	top := filepath.Join(tmp, entries[0].Name())
	inner, err := os.ReadDir(top)
	if err != nil {
		return sdk.UnpackResult{}, err
	}
	for _, e := range inner {
		if err := os.Rename(filepath.Join(top, e.Name()), filepath.Join(req.OutputDir, e.Name())); err != nil {
			return sdk.UnpackResult{}, err
		}
	}
	files, err := sdk.ListFiles(req.OutputDir)
	return sdk.UnpackResult{Files: files}, err
}

func chartArchiveName(req sdk.UnpackRequest, src string) string {
	name, version := req.Annotations["org.opencontainers.image.title"], req.Annotations["org.opencontainers.image.version"]
	if req.Config != nil {
		if b, err := os.ReadFile(filepath.Join(req.BlobsDir, filepath.FromSlash(req.Config.Path))); err == nil {
			var m chart.Metadata
			if json.Unmarshal(b, &m) == nil && m.Name != "" {
				name, version = m.Name, m.Version
			}
		}
	}
	if name == "" || strings.ContainsAny(name, `/\`) || strings.ContainsAny(version, `/\`) {
		return "chart.tgz"
	}
	return name + "-" + version + ".tgz"
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
