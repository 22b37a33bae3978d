package chart

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/v2/loader"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/contrib"
)

const (
	tierpackYAML = "apiVersion: tierpack.dev/v1\nname: demo\nversion: 0.1.0\ntype: chart\ntier: contrib\n"
	chartYAML    = "apiVersion: v2\nname: demo\nversion: 0.1.0\ndescription: A demo chart\nhome: https://example.org/demo\nicon: https://example.org/demo.png\n" +
		"maintainers:\n  - name: Jane\n    email: jane@example.org\n"
	valuesYAML   = "replicas: 1\n"
	templateYAML = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-demo\ndata:\n  replicas: \"{{ .Values.replicas }}\"\n"
)

// goodChart is a small chart Helm's loader and linter accept, with a
// tierpack.yaml beside Chart.yaml.
func goodChart() map[string]string {
	return map[string]string{
		"tierpack.yaml":         tierpackYAML,
		"Chart.yaml":            chartYAML,
		"values.yaml":           valuesYAML,
		"templates/config.yaml": templateYAML,
	}
}

func with(base map[string]string, changes map[string]string) map[string]string {
	for k, v := range changes {
		if v == "" {
			delete(base, k)
			continue
		}
		base[k] = v
	}
	return base
}

// contribution writes files into a new folder and loads it as the host
// does (contrib.Load), returning the folder and the plugin's view of it.
func contribution(t *testing.T, files map[string]string) (string, sdk.Contribution) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := contrib.Load(dir)
	if err != nil {
		t.Fatalf("contrib.Load: %v", err)
	}
	c, err := m.Contribution()
	if err != nil {
		t.Fatal(err)
	}
	return dir, c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		// wantErrors are the error diagnostics, formatted as the CLI prints
		// them; each must start with the given text. No other errors and
		// no warnings may appear.
		wantErrors []string
	}{
		{name: "good", files: goodChart()},
		{name: "chart in a subfolder",
			files: map[string]string{
				"tierpack.yaml":               tierpackYAML + "spec:\n  chart: chart\n",
				"README.md":                   "# demo\n",
				"chart/Chart.yaml":            chartYAML,
				"chart/values.yaml":           valuesYAML,
				"chart/templates/config.yaml": templateYAML,
			}},
		{name: "not a chart",
			files:      with(goodChart(), map[string]string{"Chart.yaml": ""}),
			wantErrors: []string{"Chart.yaml: error: no Chart.yaml: this is not a Helm chart folder (run `helm create NAME` or set spec.chart to the chart's folder)"}},
		{name: "chart version is not semver",
			files:      with(goodChart(), map[string]string{"Chart.yaml": strings.Replace(chartYAML, "version: 0.1.0", "version: one", 1)}),
			wantErrors: []string{`Chart.yaml: error: validation: chart.metadata.version "one" is invalid`}},
		{name: "template does not parse",
			files:      with(goodChart(), map[string]string{"templates/config.yaml": strings.Replace(templateYAML, "{{ .Values.replicas }}", "{{ .Values.replicas ", 1)}),
			wantErrors: []string{"templates/config.yaml:6: error: "}},
		{name: "template error in a subfolder chart names the file below it",
			files: map[string]string{
				"tierpack.yaml":               tierpackYAML + "spec:\n  chart: chart\n",
				"chart/Chart.yaml":            chartYAML,
				"chart/values.yaml":           valuesYAML,
				"chart/templates/config.yaml": strings.Replace(templateYAML, "{{ .Values.replicas }}", "{{ .Values.replicas ", 1),
			},
			wantErrors: []string{"chart/templates/config.yaml:6: error: "}},
		{name: "values do not parse",
			files:      with(goodChart(), map[string]string{"values.yaml": "replicas: [1\n"}),
			wantErrors: []string{"values.yaml:1: error: cannot load values.yaml: "}},
		{name: "dependency missing from charts/",
			files: with(goodChart(), map[string]string{"Chart.yaml": chartYAML +
				"dependencies:\n  - name: redis\n    version: 1.0.0\n    repository: https://charts.example.org\n"}),
			wantErrors: []string{`Chart.yaml:11: error: dependency "redis" is not in charts/ (run ` + "`helm dependency update"}},
		{name: "name differs from Chart.yaml",
			files: with(goodChart(), map[string]string{"tierpack.yaml": strings.Replace(tierpackYAML, "name: demo", "name: other", 1)}),
			wantErrors: []string{`tierpack.yaml: error: name "other" differs from Chart.yaml's name "demo" ` +
				"(use the chart's name, so Helm users find it under the same name)"}},
		{name: "version differs from Chart.yaml",
			files: with(goodChart(), map[string]string{"tierpack.yaml": strings.Replace(tierpackYAML, "version: 0.1.0", "version: 0.2.0", 1)}),
			wantErrors: []string{`tierpack.yaml: error: version "0.2.0" differs from Chart.yaml's version "0.1.0" ` +
				"(the OCI tag is the chart version; make them equal)"}},
		{name: "spec.chart outside the contribution",
			files:      with(goodChart(), map[string]string{"tierpack.yaml": tierpackYAML + "spec:\n  chart: ../elsewhere\n"}),
			wantErrors: []string{`tierpack.yaml: error: spec.chart "../elsewhere" must be a folder inside the contribution`}},
		{name: "unknown spec field",
			files:      with(goodChart(), map[string]string{"tierpack.yaml": tierpackYAML + "spec:\n  charts: .\n"}),
			wantErrors: []string{`tierpack.yaml: error: tierpack.yaml: spec: unknown field "charts"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, c := contribution(t, tt.files)
			diags, err := Plugin{}.Validate(t.Context(), sdk.ValidateRequest{Dir: dir, Contribution: c})
			if err != nil {
				t.Fatalf("Validate: %v (problems with a contribution are diagnostics)", err)
			}
			var errs, others []string
			for _, d := range diags {
				switch d.Severity {
				case sdk.SeverityError:
					errs = append(errs, d.String())
				case sdk.SeverityWarning:
					others = append(others, d.String())
				}
			}
			if len(others) > 0 {
				t.Errorf("warnings: %s", strings.Join(others, "; "))
			}
			ok := len(errs) == len(tt.wantErrors)
			for i := 0; ok && i < len(errs); i++ {
				ok = strings.HasPrefix(errs[i], tt.wantErrors[i])
			}
			if !ok {
				t.Errorf("errors:\n  %s\nwant ones starting:\n  %s", strings.Join(errs, "\n  "), strings.Join(tt.wantErrors, "\n  "))
			}
		})
	}
}

// packaged is one Package run's output.
type packaged struct {
	res     sdk.PackageResult
	staging string
	config  []byte
	chart   []byte
}

func pack(t *testing.T, dir string, c sdk.Contribution, epoch int64) packaged {
	t.Helper()
	staging := t.TempDir()
	res, err := Plugin{}.Package(t.Context(), sdk.PackageRequest{Dir: dir, Contribution: c, StagingDir: staging, SourceDateEpoch: epoch})
	if err != nil {
		t.Fatalf("Package: %v", err)
	}
	if len(res.Manifests) != 1 {
		t.Fatalf("Package described %d manifests, want 1", len(res.Manifests))
	}
	m := res.Manifests[0]
	if m.Config == nil || m.Config.MediaType != sdk.MediaTypeHelmConfig || len(m.Layers) != 1 || m.Layers[0].MediaType != sdk.MediaTypeHelmChart {
		t.Fatalf("manifest = %+v, want Helm's config and one chart layer", m)
	}
	if m.ArtifactType != "-" {
		t.Errorf("artifact type %q, want none (\"-\"), as helm push writes", m.ArtifactType)
	}
	if m.Layers[0].Path != "demo-0.1.0.tgz" {
		t.Errorf("chart layer %q, want demo-0.1.0.tgz as helm package names it", m.Layers[0].Path)
	}
	entries, err := os.ReadDir(staging)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"config.json", "demo-0.1.0.tgz"}) {
		t.Errorf("staging folder holds %q, want only the config and the chart", names)
	}
	p := packaged{res: res, staging: staging}
	if p.config, err = os.ReadFile(filepath.Join(staging, m.Config.Path)); err != nil {
		t.Fatal(err)
	}
	if p.chart, err = os.ReadFile(filepath.Join(staging, m.Layers[0].Path)); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPackage(t *testing.T) {
	dir, c := contribution(t, goodChart())
	p := pack(t, dir, c, 1700000000)

	// What helm pull gets is a chart Helm's own loader reads back, without
	// tierpack's files.
	ch, err := loader.LoadArchive(bytes.NewReader(p.chart))
	if err != nil {
		t.Fatalf("Helm cannot load the packaged chart: %v", err)
	}
	if ch.Metadata.Name != "demo" || ch.Metadata.Version != "0.1.0" || len(ch.Templates) != 1 || ch.Templates[0].Name != "templates/config.yaml" {
		t.Errorf("Helm loaded %s %s with templates %v", ch.Metadata.Name, ch.Metadata.Version, ch.Templates)
	}
	for _, f := range ch.Files {
		if f.Name == contrib.FileName {
			t.Errorf("the chart archive holds %s", contrib.FileName)
		}
	}
	var meta struct{ Name, Version, Description string }
	if err := json.Unmarshal(p.config, &meta); err != nil || meta.Name != "demo" || meta.Version != "0.1.0" || meta.Description != "A demo chart" {
		t.Errorf("config %s (%v), want Chart.yaml's metadata as JSON", p.config, err)
	}
	a := p.res.Annotations
	if a["org.opencontainers.image.title"] != "demo" || a["org.opencontainers.image.version"] != "0.1.0" ||
		a["org.opencontainers.image.url"] != "https://example.org/demo" || a["org.opencontainers.image.authors"] != "Jane (jane@example.org)" {
		t.Errorf("annotations %v, want helm push's", a)
	}
}

func TestPackageDeterministic(t *testing.T) {
	dir, c := contribution(t, goodChart())
	first := pack(t, dir, c, 1700000000)
	again := pack(t, dir, c, 1700000000)
	if !bytes.Equal(first.chart, again.chart) || !bytes.Equal(first.config, again.config) {
		t.Fatal("two Package runs on the same chart gave different blobs")
	}
	// The same chart elsewhere, with other modification times.
	dir2, c2 := contribution(t, goodChart())
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir2, "Chart.yaml"), later, later); err != nil {
		t.Fatal(err)
	}
	if moved := pack(t, dir2, c2, 1700000000); !bytes.Equal(first.chart, moved.chart) {
		t.Fatal("the same chart in another folder, with other mtimes, gave a different archive")
	}
}

func TestUnpackRoundTrip(t *testing.T) {
	files := goodChart()
	dir, c := contribution(t, files)
	p := pack(t, dir, c, 0)
	m := p.res.Manifests[0]
	req := func(out string, opts map[string]string) sdk.UnpackRequest {
		return sdk.UnpackRequest{
			BlobsDir:    p.staging,
			Config:      &sdk.Blob{MediaType: m.Config.MediaType, Path: m.Config.Path},
			Layers:      []sdk.Blob{{MediaType: sdk.MediaTypeHelmChart, Path: m.Layers[0].Path}},
			Annotations: p.res.Annotations,
			OutputDir:   out,
			Options:     opts,
		}
	}

	out := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := Plugin{}.Unpack(t.Context(), req(out, nil))
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	want := []string{"Chart.yaml", "templates/config.yaml", "values.yaml"}
	if !slices.Equal(res.Files, want) {
		t.Errorf("Unpack listed %q, want the chart's files %q", res.Files, want)
	}
	// helm package rewrites Chart.yaml from the parsed metadata, so it
	// comes back equal to Helm, not byte for byte.
	back, err := loader.LoadDir(out)
	if err != nil {
		t.Fatalf("Helm cannot load the unpacked chart: %v", err)
	}
	orig, err := loader.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Metadata, orig.Metadata) {
		t.Errorf("unpacked Chart.yaml has metadata %+v, want %+v", back.Metadata, orig.Metadata)
	}
	for _, f := range want[1:] {
		b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(f)))
		if err != nil || string(b) != files[f] {
			t.Errorf("%s: %q (%v), want %q", f, b, err, files[f])
		}
	}

	// keep-archive: the .tgz as helm pull writes it.
	keep := filepath.Join(t.TempDir(), "keep")
	if err := os.Mkdir(keep, 0o755); err != nil {
		t.Fatal(err)
	}
	res, err = Plugin{}.Unpack(t.Context(), req(keep, map[string]string{OptionKeepArchive: "true"}))
	if err != nil {
		t.Fatalf("Unpack keep-archive: %v", err)
	}
	if !slices.Equal(res.Files, []string{"demo-0.1.0.tgz"}) {
		t.Fatalf("Unpack keep-archive listed %q, want demo-0.1.0.tgz", res.Files)
	}
	if b, err := os.ReadFile(filepath.Join(keep, "demo-0.1.0.tgz")); err != nil || !bytes.Equal(b, p.chart) {
		t.Errorf("kept archive differs from the pushed layer (%v)", err)
	}
}

func TestUnpackRefusesNonChart(t *testing.T) {
	_, err := Plugin{}.Unpack(t.Context(), sdk.UnpackRequest{
		BlobsDir:  t.TempDir(),
		Layers:    []sdk.Blob{{MediaType: sdk.MediaTypeLayerTarGzip, Path: "x"}},
		OutputDir: t.TempDir(),
	})
	if err == nil || !strings.Contains(err.Error(), "it is not a Helm chart") {
		t.Fatalf("Unpack without a chart layer: %v, want a refusal", err)
	}
}
