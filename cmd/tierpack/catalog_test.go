package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/sdk"
)

// chromium finds Debian's chromium, skipping without it unless CI is set.
func chromium(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium not on PATH; .ci/run should have installed it (apt-get install chromium)")
		}
		t.Skip("chromium not on PATH (apt-get install chromium): the catalog browser test needs it")
	}
	return p
}

// browse loads url in headless Chromium and returns the DOM as it stands
// after the page ran: what a person sees.
func browse(t *testing.T, bin, url string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" + dir}, extra...)
	if len(extra) == 0 {
		args = append(args, "--dump-dom")
	}
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, stderr.String())
	}
	return string(out)
}

var tags = regexp.MustCompile(`(?s)<[^>]*>`)

// visible is the DOM's text with tags removed and spaces folded.
func visible(dom string) string {
	return strings.Join(strings.Fields(tags.ReplaceAllString(dom, " ")), " ")
}

// writeScript writes a script contribution NAME at tier with description.
func writeScript(t *testing.T, dir, name, tierName, desc string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d, _ := json.Marshal(desc)
	files := map[string]string{
		"tierpack.yaml": "name: " + name + "\nversion: 1.0.0\ntype: script\ntier: " + tierName + "\nlicense: Apache-2.0\n" +
			"description: " + string(d) + "\nsource: {url: https://github.com/falcosecurity/" + name + ", revision: abc123}\n",
		"README.md": "# " + name + "\n",
		"OWNERS":    "approvers: [jane]\nreviewers: [sam]\n",
		"run.sh":    "#!/bin/sh\necho " + name + "\n",
	}
	for n, b := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(n, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, n), []byte(b), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// forgeOfficial rewrites the manifest at ref with annotations that claim
// official and pushes it under tag, as `oras push --annotation` would.
func forgeOfficial(t *testing.T, reg *registrytest.Registry, repo, tag string) {
	t.Helper()
	ctx := context.Background()
	r := remoteRepo(t, reg, repo)
	desc, rc, err := r.FetchReference(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var m ocispec.Manifest
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		t.Fatal(err)
	}
	m.Annotations[sdk.AnnotationTier] = "official"
	m.Annotations[sdk.AnnotationOwners] = `{"approvers":["mallory"]}`
	b, _ := json.Marshal(m)
	nd := ocispec.Descriptor{MediaType: desc.MediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := r.PushReference(ctx, nd, strings.NewReader(string(b)), tag); err != nil {
		t.Fatal(err)
	}
}

// startCatalog runs `tierpack catalog serve` on a free loopback port and
// returns its URL; the process is stopped when the test ends.
func startCatalog(t *testing.T, p *tp, args ...string) string {
	t.Helper()
	cmd := exec.Command(tierpackBin, append([]string{"catalog", "serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Dir, cmd.Env = p.dir, testEnv(t, p.home)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Wait()
		t.Fatalf("catalog serve: %v\n%s", err, stderr.String())
	}
	u := regexp.MustCompile(`http://\S+/`).FindString(line)
	if u == "" {
		t.Fatalf("catalog serve said %q", line)
	}
	return u
}

// TestCatalogInBrowser: a real registry holds a promoted (official), a
// repository, a forged official claim and a hostile contribution; the
// catalog is served by the real binary and read by headless Chromium.
func TestCatalogInBrowser(t *testing.T) {
	bin := chromium(t)
	reg := registrytest.New(t)
	p := newTP(t)
	p.ok("key", "generate", "core")

	writeScript(t, p.path("promoted"), "falco-tuner", "repository", "Tunes Falco rules for noisy clusters.")
	p.ok("push", p.path("promoted"), reg.Host+"/scripts/falco-tuner") // signed by the CI key at repository
	p.ok("promote", reg.Host+"/scripts/falco-tuner:1.0.0", "--to", "official", "--key", "core.key", "--reason", "core review", "--by", "core-maintainer")
	writeScript(t, p.path("repo"), "falco-collector", "repository", "Collects Falco's logs for bug reports.")
	p.ok("push", p.path("repo"), reg.Host+"/scripts/falco-collector")
	writeScript(t, p.path("forged"), "falco-forged", "contrib", "Says it is official. It is not.")
	p.ok("push", p.path("forged"), reg.Host+"/contrib/falco-forged")
	forgeOfficial(t, reg, "contrib/falco-forged", "1.0.0")
	const hostile = `<script>document.title="pwned"</script><img src=x onerror="document.body.setAttribute('data-pwned','1')">`
	writeScript(t, p.path("hostile"), "falco-hostile", "contrib", hostile)
	p.ok("push", p.path("hostile"), reg.Host+"/contrib/falco-hostile")

	repos := []string{reg.Host + "/scripts/falco-tuner", reg.Host + "/scripts/falco-collector", reg.Host + "/contrib/falco-forged", reg.Host + "/contrib/falco-hostile"}
	p.ok(append([]string{"index", "build", "--key", "core.pub", "-o", "index.yaml"}, repos...)...)
	p.ok("index", "add", "main", "index.yaml")
	url := startCatalog(t, p, "--key", "core.pub")

	list := visible(browse(t, bin, url))
	for _, want := range []string{"falco-tuner", "official verified", "repository verified", "contrib at your own risk (claims official, unverified)", "4 result(s)"} {
		if !strings.Contains(list, want) {
			t.Errorf("list page lacks %q:\n%s", want, list)
		}
	}
	// A badge is text, not only colour, and a claim is never a badge: the
	// forged row is badged contrib, its claim said beside it in words.
	if !regexp.MustCompile(`falco-forged \S+ contrib at your own risk \(claims official, unverified`).MatchString(list) || strings.Contains(list, "official claimed") {
		t.Errorf("the forged one is not badged contrib with its claim in words:\n%s", list)
	}
	if !regexp.MustCompile(`falco-tuner \S+ official verified`).MatchString(list) {
		t.Errorf("the promoted one is not badged verified:\n%s", list)
	}

	// Filtering by tier, through the GET form's parameters.
	filtered := visible(browse(t, bin, url+"?tier=repository"))
	if !strings.Contains(filtered, "falco-tuner") || !strings.Contains(filtered, "falco-collector") ||
		strings.Contains(filtered, "falco-forged") || strings.Contains(filtered, "falco-hostile") || !strings.Contains(filtered, "2 result(s): repository or above") {
		t.Errorf("?tier=repository:\n%s", filtered)
	}
	exact := visible(browse(t, bin, url+"?tier=repository&exact=1"))
	if !strings.Contains(exact, "falco-collector") || strings.Contains(exact, "falco-tuner ") {
		t.Errorf("?tier=repository&exact=1:\n%s", exact)
	}

	// The promoted one's page: verified, with its timeline.
	slug := strings.ReplaceAll(strings.ReplaceAll(reg.Host, ":", "-"), "/", "-") + "-scripts-falco-tuner"
	art := visible(browse(t, bin, url+"a/"+slug+"/"))
	for _, want := range []string{"falco-tuner official verified", "core-maintainer", "repository → official", "core review",
		"granted repository", "OWNERS approvers jane", "tierpack pull " + reg.Host + "/scripts/falco-tuner:1.0.0 --tier official",
		"https://github.com/falcosecurity/falco-tuner", "trusted key", "sha256:"} {
		if !strings.Contains(art, want) {
			t.Errorf("artifact page lacks %q:\n%s", want, art)
		}
	}

	// The hostile description renders as text; nothing it holds ran.
	hslug := strings.ReplaceAll(strings.ReplaceAll(reg.Host, ":", "-"), "/", "-") + "-contrib-falco-hostile"
	for _, u := range []string{url, url + "a/" + hslug + "/"} {
		dom := browse(t, bin, u)
		if strings.Contains(dom, "<title>pwned") || strings.Contains(dom, `data-pwned="1"`) || strings.Contains(dom, "<img") || strings.Contains(dom, "<script") {
			t.Errorf("%s: the hostile description ran or became markup:\n%s", u, dom)
		}
		if !strings.Contains(visible(dom), `<script>document.title="pwned"</script>`) && !strings.Contains(dom, `&lt;script&gt;document.title="pwned"&lt;/script&gt;`) {
			t.Errorf("%s: the hostile description is not shown as text:\n%s", u, dom)
		}
	}

	// The JSON API has search --output json's fields.
	res, err := http.Get(url + "api/v1/artifacts?tier=official")
	if err != nil {
		t.Fatal(err)
	}
	var api struct {
		Results []map[string]any `json:"results"`
	}
	json.NewDecoder(res.Body).Decode(&api)
	res.Body.Close()
	searchOut := p.ok("search", "--tier", "official", "--key", "core.pub", "--output", "json")
	var search struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal([]byte(searchOut), &search); err != nil {
		t.Fatal(err)
	}
	if len(api.Results) != 1 || len(search.Results) != 1 || api.Results[0]["reference"] != search.Results[0]["reference"] {
		t.Fatalf("api %v\nsearch %v", api.Results, search.Results)
	}
	for k := range search.Results[0] {
		if _, ok := api.Results[0][k]; !ok {
			t.Errorf("the API lacks search's field %q", k)
		}
	}

	// catalog build, served by a plain file server, renders the same list.
	p.ok("catalog", "build", "--key", "core.pub", "-o", "site")
	fsrv := httptest.NewServer(http.FileServer(http.Dir(p.path("site"))))
	defer fsrv.Close()
	static := visible(browse(t, bin, fsrv.URL+"/index.html"))
	rows := regexp.MustCompile(`4 result\(s\).*`)
	if a, b := rows.FindString(list), rows.FindString(static); a == "" || stripFooter(a) != stripFooter(b) {
		t.Errorf("the static list differs from the served one:\nserved: %s\nstatic: %s", a, b)
	}
	staticOfficial := visible(browse(t, bin, fsrv.URL+"/tier/official/index.html"))
	if !strings.Contains(staticOfficial, "falco-tuner") || strings.Contains(staticOfficial, "falco-forged") {
		t.Errorf("static tier/official:\n%s", staticOfficial)
	}
	if art2 := visible(browse(t, bin, fsrv.URL+"/a/"+slug+"/index.html")); !strings.Contains(art2, "repository → official") {
		t.Errorf("static artifact page:\n%s", art2)
	}

	// Screenshots: to docs/ with TIERPACK_UPDATE_SCREENSHOTS=1, else
	// only checked to be made.
	shots := t.TempDir()
	if os.Getenv("TIERPACK_UPDATE_SCREENSHOTS") != "" {
		shots, _ = filepath.Abs("../../docs")
		os.MkdirAll(shots, 0o755)
	}
	for name, u := range map[string]string{"catalog-list.png": url, "catalog-artifact.png": url + "a/" + slug + "/"} {
		f := filepath.Join(shots, name)
		browse(t, bin, u, "--screenshot="+f, "--window-size=1200,1100", "--hide-scrollbars")
		if st, err := os.Stat(f); err != nil || st.Size() < 1000 {
			t.Errorf("screenshot %s: %v", name, err)
		}
	}
}

// stripFooter drops the footer, whose generation time differs.
func stripFooter(s string) string {
	if i := strings.Index(s, "Read-only."); i >= 0 {
		return s[:i]
	}
	return s
}
