package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	commonutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	"helm.sh/helm/v4/pkg/registry"

	"github.com/tierpack/tierpack/internal/registrytest"
)

func helmClient(t *testing.T) *registry.Client {
	t.Helper()
	c, err := registry.NewClient(registry.ClientOptPlainHTTP(), registry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "config.json")))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestHelmPullsTierpackChart: Helm's own registry client, with no tierpack
// code on the pull side, pulls a chart tierpack pushed, and Helm's template
// engine renders it.
func TestHelmPullsTierpackChart(t *testing.T) {
	reg := registrytest.New(t)
	ref := reg.Host + "/charts/falco-rules-exporter"
	runTierpack(t, "push", filepath.Join(examplesDir(t), "charts", "falco-rules-exporter"), ref)

	res, err := helmClient(t).Pull(ref + ":0.3.1")
	if err != nil {
		t.Fatalf("helm registry client pull: %v", err)
	}
	if res.Chart.Meta.Name != "falco-rules-exporter" || res.Chart.Meta.Version != "0.3.1" {
		t.Errorf("chart meta %+v", res.Chart.Meta)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(res.Chart.Data))
	if err != nil {
		t.Fatal(err)
	}
	vals, err := commonutil.ToRenderValues(ch, nil, common.ReleaseOptions{Name: "demo", Namespace: "falco"}, common.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	out, err := engine.Render(ch, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	ds := out["falco-rules-exporter/templates/daemonset.yaml"]
	for _, want := range []string{"kind: DaemonSet", "name: demo-falco-rules-exporter", `image: "ghcr.io/falcosecurity/falco-rules-exporter:0.3.1"`, "containerPort: 9376"} {
		if !strings.Contains(ds, want) {
			t.Errorf("rendered daemonset lacks %q:\n%s", want, ds)
		}
	}
	for _, f := range ch.Files {
		if f.Name == "tierpack.yaml" {
			t.Error("tierpack.yaml leaked into the chart")
		}
	}
}

// TestTierpackPullsHelmPushedChart: a chart pushed by Helm's push code path
// is pulled by tierpack as an untiered chart, and refused by --tier.
func TestTierpackPullsHelmPushedChart(t *testing.T) {
	reg := registrytest.New(t)
	ch, err := loader.LoadDir(filepath.Join(examplesDir(t), "charts", "falco-rules-exporter"))
	if err != nil {
		t.Fatal(err)
	}
	tgzDir := t.TempDir()
	tgz, err := chartutil.Save(ch, tgzDir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(tgz)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Host + "/helm/falco-rules-exporter:0.3.1"
	if _, err := helmClient(t).Push(data, ref); err != nil {
		t.Fatalf("helm push: %v", err)
	}

	out := runTierpack(t, "inspect", ref)
	if !strings.Contains(out, "Tier:           untiered") || !strings.Contains(out, "Type:           chart") {
		t.Errorf("inspect of a helm-pushed chart:\n%s", out)
	}
	dir := filepath.Join(t.TempDir(), "chart")
	runTierpack(t, "pull", ref, "-o", dir)
	if _, err := os.Stat(filepath.Join(dir, "templates", "daemonset.yaml")); err != nil {
		t.Errorf("pulled chart: %v", err)
	}
	cmd := exec.Command(tierpackBin, "pull", ref, "-o", filepath.Join(t.TempDir(), "refused"), "--tier", "contrib")
	cmd.Env = append(os.Environ(), "TIERPACK_HOME="+t.TempDir())
	msg, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitTierRefused {
		t.Fatalf("pull --tier contrib of an untiered chart: %v\n%s", err, msg)
	}
	if !strings.Contains(string(msg), "carries no tier annotation") {
		t.Errorf("refusal does not explain: %s", msg)
	}
}

// TestHelmCLIWithTierpackChart runs the real helm binaries, helm 4 (helm)
// and helm 3 (helm3; make test installs both), so a chart tierpack pushes
// stays readable by both:
//
//	helm show chart oci://HOST/charts/falco-rules-exporter --version 0.3.1 --plain-http
//	helm pull oci://HOST/charts/falco-rules-exporter --version 0.3.1 --plain-http -d DIR
//	helm template demo DIR/falco-rules-exporter-0.3.1.tgz
func TestHelmCLIWithTierpackChart(t *testing.T) {
	reg := registrytest.New(t)
	runTierpack(t, "push", filepath.Join(examplesDir(t), "charts", "falco-rules-exporter"), reg.Host+"/charts/falco-rules-exporter")
	oci := "oci://" + reg.Host + "/charts/falco-rules-exporter"
	for _, name := range []string{"helm", "helm3"} {
		t.Run(name, func(t *testing.T) {
			helmBin, err := exec.LookPath(name)
			if err != nil {
				if os.Getenv("CI") != "" {
					t.Fatalf("%s not on PATH; make test should have installed it", name)
				}
				t.Skipf("%s not on PATH (make anchors installs it into bin/)", name)
			}
			home := t.TempDir()
			helm := func(args ...string) string {
				t.Helper()
				cmd := exec.Command(helmBin, args...)
				cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+home, "HELM_CACHE_HOME="+home, "HELM_DATA_HOME="+home)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
				}
				return string(out)
			}
			if v := helm("version", "--short"); !strings.HasPrefix(v, map[string]string{"helm": "v4.", "helm3": "v3."}[name]) {
				t.Fatalf("%s is %s", name, v)
			}
			show := helm("show", "chart", oci, "--version", "0.3.1", "--plain-http")
			if !strings.Contains(show, "name: falco-rules-exporter") || !strings.Contains(show, "version: 0.3.1") {
				t.Errorf("helm show chart:\n%s", show)
			}
			dir := t.TempDir()
			helm("pull", oci, "--version", "0.3.1", "--plain-http", "-d", dir)
			tgz := filepath.Join(dir, "falco-rules-exporter-0.3.1.tgz")
			rendered := helm("template", "demo", tgz)
			if !strings.Contains(rendered, "kind: DaemonSet") {
				t.Errorf("helm template:\n%s", rendered)
			}
		})
	}
}
