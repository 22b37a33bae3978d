package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/plugins/exporter"
)

// exampleExporterPlatforms are the platforms the example exporter's
// tierpack.yaml declares.
var exampleExporterPlatforms = []string{"linux/amd64", "linux/arm64"}

// buildExampleExporter copies the falco-demo-exporter contribution into a
// temporary folder and builds its binaries there, as `make examples` does
// in the repository: static, for every declared platform.
func buildExampleExporter(t *testing.T) string {
	t.Helper()
	src := filepath.Join(examplesDir(t), "exporters", "falco-demo-exporter")
	dir := filepath.Join(t.TempDir(), "falco-demo-exporter")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tierpack.yaml", "OWNERS", "README.md"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range exampleExporterPlatforms {
		goos, goarch, _ := strings.Cut(p, "/")
		out := filepath.Join(dir, "bin", goos+"-"+goarch, "falco-demo-exporter")
		build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", out, "./src")
		build.Dir = src
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
		if msg, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building the example exporter for %s: %v\n%s", p, err, msg)
		}
	}
	return dir
}

// runningExporter is an exporter process started by startExporter.
type runningExporter struct {
	// MetricsURL is where it serves its metrics.
	MetricsURL string
	cmd        *exec.Cmd
	done       chan struct{} // closed when its stderr is drained
	mu         sync.Mutex
	log        strings.Builder
}

// listenLine is the example exporter's log line once it accepts
// connections.
var listenLine = regexp.MustCompile(`serving metrics on (http://127\.0\.0\.1:[0-9]+/\S*)`)

// startExporter runs an exporter binary on a free loopback port. It learns
// the port from the exporter's own log line rather than guessing one or
// polling, so there is no race and no sleep; the wait is bounded. The
// process is killed when the test ends if Stop was not called.
func startExporter(t *testing.T, bin string, args ...string) *runningExporter {
	t.Helper()
	e := &runningExporter{cmd: exec.Command(bin, append(args, "-listen-address=127.0.0.1:0")...), done: make(chan struct{})}
	stderr, err := e.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() {
		if e.cmd.ProcessState == nil {
			e.cmd.Process.Kill()
			<-e.done
			e.cmd.Wait()
		}
	})
	url := make(chan string, 1)
	go func() {
		defer close(e.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			e.mu.Lock()
			e.log.WriteString(sc.Text() + "\n")
			e.mu.Unlock()
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case url <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case e.MetricsURL = <-url:
		return e
	case <-e.done:
		t.Fatalf("%s exited before serving:\n%s", bin, e.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not report its address within 30s:\n%s", bin, e.logText())
	}
	return nil
}

func (e *runningExporter) logText() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.log.String()
}

// Stop sends SIGTERM, as a container runtime does, and checks that the
// exporter exits cleanly.
func (e *runningExporter) Stop(t *testing.T) {
	t.Helper()
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-e.done
	if err := e.cmd.Wait(); err != nil {
		t.Errorf("the exporter did not exit cleanly on SIGTERM: %v\n%s", err, e.logText())
	}
}

// scrape fetches the metrics and checks they are the example exporter's,
// built for goarch.
func scrape(t *testing.T, url, goarch string) string {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET %s: %s, Content-Type %q", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		"# TYPE falco_demo_events_total counter\n",
		`falco_demo_events_total{priority="critical"} `,
		fmt.Sprintf(`falco_demo_exporter_build_info{version="0.1.0",goversion=%q,goos="linux",goarch=%q} 1`, runtime.Version(), goarch),
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	return string(body)
}

// lookTool finds an interop tool (oras, crane and the others make test
// builds into bin/; skopeo and umoci from apt-get), skipping the test
// without it unless CI is set.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not on PATH; .ci/run should have installed it", name)
		}
		t.Skipf("%s not on PATH: make test installs the interop tools (bin/, apt-get install skopeo umoci)", name)
	}
	return p
}

func runTool(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// TestExporterExample packages the example exporter from source, pushes it
// to a real registry, and checks that what arrives is a multi-platform
// image that OCI tools accept and run, and that tierpack pull installs
// runnable binaries.
func TestExporterExample(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the example exporter is built for Linux and these tests run it")
	}
	dir := buildExampleExporter(t)
	reg := registrytest.New(t)
	repo := reg.Host + "/exporters/falco-demo-exporter"
	ref := repo + ":0.1.0"
	pushed := strings.TrimSpace(runTierpack(t, "push", dir, repo))
	_, wantDigest, ok := strings.Cut(pushed, "@")
	if !ok {
		t.Fatalf("push printed %q, want REF@DIGEST", pushed)
	}

	t.Run("index of plain images", func(t *testing.T) {
		ctx := context.Background()
		r, err := remote.NewRepository(repo)
		if err != nil {
			t.Fatal(err)
		}
		r.PlainHTTP = true
		desc, err := r.Resolve(ctx, "0.1.0")
		if err != nil {
			t.Fatal(err)
		}
		if desc.MediaType != ocispec.MediaTypeImageIndex || desc.Digest.String() != wantDigest {
			t.Fatalf("tag resolves to %s %s, want the index %s", desc.MediaType, desc.Digest, wantDigest)
		}
		var idx ocispec.Index
		fetchJSON(t, r, desc, &idx)
		if idx.ArtifactType != exporter.ArtifactType || idx.Annotations["dev.tierpack.tier"] != "repository" {
			t.Errorf("index artifactType %q, tier %q", idx.ArtifactType, idx.Annotations["dev.tierpack.tier"])
		}
		var platforms []string
		for _, md := range idx.Manifests {
			platforms = append(platforms, md.Platform.OS+"/"+md.Platform.Architecture)
			var m ocispec.Manifest
			fetchJSON(t, r, md, &m)
			if m.ArtifactType != "" || md.ArtifactType != "" {
				t.Errorf("%s manifest has artifactType %q: runtimes want a plain image", md.Platform.Architecture, m.ArtifactType)
			}
			if m.Config.MediaType != ocispec.MediaTypeImageConfig || len(m.Layers) != 1 || m.Layers[0].MediaType != ocispec.MediaTypeImageLayerGzip {
				t.Errorf("%s manifest: config %s, layers %v", md.Platform.Architecture, m.Config.MediaType, m.Layers)
			}
			if m.Annotations["dev.tierpack.tier"] != "repository" {
				t.Errorf("%s manifest lacks the tier annotation", md.Platform.Architecture)
			}
			var img ocispec.Image
			fetchJSON(t, r, m.Config, &img)
			if img.OS+"/"+img.Architecture != platforms[len(platforms)-1] || img.Config.Labels["dev.tierpack.tier"] != "repository" {
				t.Errorf("image config %s/%s, labels %v", img.OS, img.Architecture, img.Config.Labels)
			}
		}
		if !slices.Equal(platforms, exampleExporterPlatforms) {
			t.Errorf("index platforms %v, want %v", platforms, exampleExporterPlatforms)
		}

		// Deterministic: packaging the same binaries again gives the same
		// index, so re-pushing uploads nothing.
		if again := strings.TrimSpace(runTierpack(t, "push", dir, repo)); again != pushed {
			t.Errorf("re-push gave %s, first push %s", again, pushed)
		}
	})

	t.Run("skopeo and umoci run the image", func(t *testing.T) {
		skopeo, umoci := lookTool(t, "skopeo"), lookTool(t, "umoci")
		if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
			t.Skipf("the example is built for amd64 and arm64, not this %s machine", runtime.GOARCH)
		}
		src := "docker://" + ref
		raw := runTool(t, skopeo, "inspect", "--raw", "--tls-verify=false", src)
		t.Logf("skopeo inspect --raw %s:\n%s", src, raw)
		if got := fmt.Sprintf("sha256:%x", sha256.Sum256(raw)); got != wantDigest {
			t.Errorf("skopeo inspect --raw gave a document with digest %s, want %s", got, wantDigest)
		}
		var inspected struct {
			Architecture, Os string
			Labels           map[string]string
		}
		out := runTool(t, skopeo, "inspect", "--tls-verify=false", "--override-os", "linux", "--override-arch", "arm64", src)
		if err := json.Unmarshal(out, &inspected); err != nil {
			t.Fatal(err)
		}
		if inspected.Os != "linux" || inspected.Architecture != "arm64" || inspected.Labels["dev.tierpack.tier"] != "repository" {
			t.Errorf("skopeo inspect of the arm64 image: %s", out)
		}

		// Every platform copies; the index arrives byte for byte.
		layout := filepath.Join(t.TempDir(), "layout")
		t.Logf("skopeo copy --all:\n%s", runTool(t, skopeo, "--insecure-policy", "copy", "--all", "--src-tls-verify=false", src, "oci:"+layout+":all"))
		var li ocispec.Index
		data, err := os.ReadFile(filepath.Join(layout, "index.json"))
		if err != nil || json.Unmarshal(data, &li) != nil || len(li.Manifests) != 1 || li.Manifests[0].Digest.String() != wantDigest {
			t.Fatalf("skopeo copy --all wrote index.json %s (%v), want it to hold %s", data, err, wantDigest)
		}

		// This machine's image, as a runtime would select it, unpacked into
		// a root filesystem and an OCI runtime config.
		runTool(t, skopeo, "--insecure-policy", "copy", "--src-tls-verify=false", "--override-os", "linux", "--override-arch", runtime.GOARCH, src, "oci:"+layout+":run")
		bundle := filepath.Join(t.TempDir(), "bundle")
		args := []string{"unpack", "--image", layout + ":run", bundle}
		if os.Geteuid() != 0 {
			args = append([]string{"--rootless"}, args...)
		}
		t.Logf("umoci %s: %s", strings.Join(args, " "), runTool(t, umoci, args...))
		var spec struct {
			Process struct {
				Args []string
				Env  []string
				User struct{ UID, GID int }
			}
		}
		data, err = os.ReadFile(filepath.Join(bundle, "config.json"))
		if err != nil || json.Unmarshal(data, &spec) != nil {
			t.Fatalf("umoci's runtime config: %v\n%s", err, data)
		}
		p := spec.Process
		if !slices.Equal(p.Args, []string{"/usr/local/bin/falco-demo-exporter", "-listen-address=:9376"}) || p.User.UID != 65534 || p.User.GID != 65534 {
			t.Errorf("runtime config process: args %q, user %d:%d", p.Args, p.User.UID, p.User.GID)
		}
		bin := filepath.Join(bundle, "rootfs", filepath.FromSlash(p.Args[0]))
		st, err := os.Stat(bin)
		if err != nil || st.Mode().Perm() != 0o755 {
			t.Fatalf("the unpacked root filesystem's entrypoint: %v %v", st, err)
		}
		t.Logf("umoci runtime config: args %q, user %d:%d", p.Args, p.User.UID, p.User.GID)
		// Run the entrypoint with the image's arguments, on a free loopback port.
		e := startExporter(t, bin, p.Args[1:]...)
		metrics := scrape(t, e.MetricsURL, runtime.GOARCH)
		t.Logf("GET %s:\n%s", e.MetricsURL, metrics)
		e.Stop(t)
	})

	t.Run("pull installs a binary that runs", func(t *testing.T) {
		if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
			t.Skipf("the example is built for amd64 and arm64, not this %s machine", runtime.GOARCH)
		}
		out := filepath.Join(t.TempDir(), "fde")
		runTierpack(t, "pull", ref, "-o", out, "--tier", "repository")
		bin := filepath.Join(out, "falco-demo-exporter")
		if st, err := os.Stat(bin); err != nil || st.Mode().Perm()&0o111 == 0 {
			t.Fatalf("pulled binary: %v %v", st, err)
		}
		var info exporter.RunInfo
		data, err := os.ReadFile(filepath.Join(out, exporter.RunInfoFile))
		if err != nil || json.Unmarshal(data, &info) != nil {
			t.Fatalf("%s: %v\n%s", exporter.RunInfoFile, err, data)
		}
		if info.Platform != "linux/"+runtime.GOARCH || info.Tier != "repository" || info.Port != 9376 || info.MetricsURL != "http://localhost:9376/metrics" {
			t.Errorf("%s: %+v", exporter.RunInfoFile, info)
		}
		e := startExporter(t, filepath.Join(out, info.Binary), info.Args...)
		if !strings.HasSuffix(e.MetricsURL, info.MetricsPath) {
			t.Errorf("serving %s, exporter.json says path %s", e.MetricsURL, info.MetricsPath)
		}
		first := scrape(t, e.MetricsURL, runtime.GOARCH)
		second := scrape(t, e.MetricsURL, runtime.GOARCH)
		if !strings.Contains(first, "falco_demo_exporter_scrapes_total 1\n") || !strings.Contains(second, "falco_demo_exporter_scrapes_total 2\n") {
			t.Errorf("the scrape counter does not count:\n%s\n%s", first, second)
		}
		e.Stop(t)
	})

	t.Run("pull all platforms", func(t *testing.T) {
		parent := t.TempDir()
		out := filepath.Join(parent, "all")
		var res struct {
			Files     []string
			Platforms []string
		}
		if err := json.Unmarshal([]byte(runTierpack(t, "pull", ref, "--all-platforms", "-o", out, "--output", "json")), &res); err != nil {
			t.Fatal(err)
		}
		wantFiles := []string{"linux-amd64/exporter.json", "linux-amd64/falco-demo-exporter", "linux-arm64/exporter.json", "linux-arm64/falco-demo-exporter"}
		if !slices.Equal(res.Platforms, []string{"linux-amd64", "linux-arm64"}) || !slices.Equal(res.Files, wantFiles) {
			t.Errorf("pull --all-platforms reported platforms %v, files %v", res.Platforms, res.Files)
		}
		for dirName, machine := range map[string]elf.Machine{"linux-amd64": elf.EM_X86_64, "linux-arm64": elf.EM_AARCH64} {
			f, err := elf.Open(filepath.Join(out, dirName, "falco-demo-exporter"))
			if err != nil {
				t.Fatal(err)
			}
			if f.Machine != machine {
				t.Errorf("%s holds a %s binary", dirName, f.Machine)
			}
			f.Close()
		}
		if entries, _ := os.ReadDir(parent); len(entries) != 1 {
			t.Errorf("pull left staging folders behind: %v", entries)
		}
	})

	t.Run("arm64 binary declared amd64 is refused", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "swapped")
		if err := os.CopyFS(bad, os.DirFS(dir)); err != nil {
			t.Fatal(err)
		}
		amd64 := filepath.Join(bad, "bin", "linux-amd64", "falco-demo-exporter")
		if err := os.Rename(filepath.Join(bad, "bin", "linux-arm64", "falco-demo-exporter"), amd64); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(tierpackBin, "push", bad, reg.Host+"/exporters/swapped")
		cmd.Env = append(os.Environ(), "TIERPACK_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitInvalid {
			t.Fatalf("push of a swapped binary: %v\n%s", err, out)
		}
		for _, want := range []string{
			"bin/linux-amd64/falco-demo-exporter: error: ELF machine is AArch64 (arm64) but tierpack.yaml:19 declares linux/amd64",
			"bin/linux-arm64/falco-demo-exporter: error: the linux/arm64 binary does not exist",
			"(build them with `make examples`)",
		} {
			if !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
}

func fetchJSON(t *testing.T, r *remote.Repository, desc ocispec.Descriptor, v any) {
	t.Helper()
	data, err := content.FetchAll(context.Background(), r, desc)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", desc.Digest, err)
	}
}
