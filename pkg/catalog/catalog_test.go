package catalog_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tierpack/tierpack/pkg/catalog"
	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/pkg/trust"
	"github.com/tierpack/tierpack/sdk/tier"
)

const hostile = `<script>alert("pwned")</script><img src=x onerror=alert(1)>`

func entry(name, typ string, verified, claimed tier.Tier, desc string) tierpack.CatalogEntry {
	v := index.Version{Version: "1.0.0", Tags: []string{"1.0.0"}, Digest: "sha256:" + strings.Repeat("a", 64), Tier: verified}
	if claimed != verified {
		v.ClaimedTier = claimed
	}
	e := index.Entry{Name: name, Type: typ, Tier: verified, Repository: "reg.example:5000/x/" + name, Latest: "1.0.0",
		Description: desc, Source: "javascript:alert(1)", Versions: []index.Version{v},
		Maintainers: []index.Maintainer{{Name: "<b>jane</b>", Role: index.RoleApprover}}}
	cv := tierpack.CatalogVersion{Version: v, Reference: e.Reference(v)}
	if verified > tier.Contrib {
		cv.History = &trust.Report{Signatures: []trust.SignatureReport{{Identity: "ci", Format: "bundle", TrustedKey: "abc123"}},
			Promotions: []promotion.Signed{{Record: promotion.Record{From: tier.Repository, To: tier.Official, Source: "sha256:b",
				By: "core-maintainer", Reason: "core <review>", Time: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)}, KeyID: "k1"}}}
	} else {
		cv.HistoryError = "history unavailable: connection refused"
	}
	return tierpack.CatalogEntry{Hit: tierpack.CatalogHit(e), Versions: []tierpack.CatalogVersion{cv}}
}

func testCatalog() *catalog.Catalog {
	return catalog.New(&tierpack.CatalogResult{Entries: []tierpack.CatalogEntry{
		entry("evil", "script", tier.Contrib, tier.Official, hostile),
		entry("good", "script", tier.Official, tier.Official, "a promoted one"),
		entry("rules", "chart", tier.Repository, tier.Repository, "a chart"),
	}}, time.Now())
}

func get(t *testing.T, h http.Handler, method, target string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// TestHostileValuesRenderAsText: a description, an approver and a reason
// holding markup are escaped; a javascript: source URL is not a link.
func TestHostileValuesRenderAsText(t *testing.T) {
	h := testCatalog().Handler()
	for _, target := range []string{"/", "/a/reg.example-5000-x-evil/", "/?q=pwned"} {
		res, body := get(t, h, "GET", target)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d\n%s", target, res.StatusCode, body)
		}
		for _, bad := range []string{"<script>", "<img", "<b>jane", `href="javascript:`} {
			if strings.Contains(body, bad) {
				t.Errorf("%s renders %q unescaped", target, bad)
			}
		}
		if !strings.Contains(body, "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;") {
			t.Errorf("%s lacks the escaped description:\n%s", target, body)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("CSP %q", csp)
		}
	}
}

func TestFiltersAndBadges(t *testing.T) {
	h := testCatalog().Handler()
	_, body := get(t, h, "GET", "/")
	if !strings.Contains(body, "3 result(s)") || !strings.Contains(body, `contrib <span class="state">at your own risk</span></span> <span class="note">(claims official, unverified)</span>`) ||
		strings.Contains(body, `official <span class="state">claimed</span>`) ||
		!strings.Contains(body, `official <span class="state">verified</span>`) {
		t.Fatalf("list:\n%s", body)
	}
	for q, want := range map[string][]string{
		"/?tier=repository":               {"good", "rules"},
		"/?tier=repository&exact=1":       {"rules"},
		"/?tier=official":                 {"good"},
		"/?type=chart":                    {"rules"},
		"/?q=promoted":                    {"good"},
		"/api/v1/artifacts?tier=official": {"good"},
	} {
		_, body := get(t, h, "GET", q)
		for _, n := range []string{"evil", "good", "rules"} {
			has := strings.Contains(body, "x/"+n)
			if has != contains(want, n) {
				t.Errorf("%s: has %s = %v, want %v", q, n, has, !has)
			}
		}
	}
	res, body := get(t, h, "GET", "/api/v1/artifacts/good")
	var a map[string]any
	if err := json.Unmarshal([]byte(body), &a); err != nil || res.StatusCode != 200 {
		t.Fatalf("api: %d %v\n%s", res.StatusCode, err, body)
	}
	for _, k := range []string{"name", "reference", "claimedTier", "verifiedTier", "version", "versions", "history"} {
		if _, ok := a[k]; !ok {
			t.Errorf("api artifact lacks %q", k)
		}
	}
	_, body = get(t, h, "GET", "/a/reg.example-5000-x-rules/")
	for _, want := range []string{"helm pull oci://reg.example:5000/x/rules --version 1.0.0", "tierpack pull reg.example:5000/x/rules:1.0.0 --tier repository"} {
		if !strings.Contains(body, want) {
			t.Errorf("chart page lacks %q", want)
		}
	}
	_, body = get(t, h, "GET", "/a/reg.example-5000-x-good/")
	for _, want := range []string{"core-maintainer", "repository → official", "core &lt;review&gt;", "abc123", "2026-01-02 03:04 UTC"} {
		if !strings.Contains(body, want) {
			t.Errorf("artifact page lacks %q", want)
		}
	}
	_, body = get(t, h, "GET", "/a/reg.example-5000-x-evil/")
	if !strings.Contains(body, "History unavailable: history unavailable: connection refused") {
		t.Errorf("evil page lacks the unavailable history")
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestReadOnly(t *testing.T) {
	h := testCatalog().Handler()
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		if res, _ := get(t, h, m, "/"); res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s /: %d", m, res.StatusCode)
		}
	}
	if res, _ := get(t, h, "HEAD", "/"); res.StatusCode != 200 {
		t.Errorf("HEAD: %d", res.StatusCode)
	}
	if res, _ := get(t, h, "GET", "/?tier=platinum"); res.StatusCode != 400 {
		t.Errorf("bad tier: %d", res.StatusCode)
	}
	srv := catalog.Server("127.0.0.1:0", h)
	if srv.ReadHeaderTimeout == 0 || srv.ReadTimeout == 0 || srv.WriteTimeout == 0 {
		t.Error("server without timeouts")
	}
}

func TestCheckListen(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:8080": true, "localhost:80": true, "[::1]:8080": true,
		"0.0.0.0:8080": false, ":8080": false, "192.0.2.1:80": false, "nonsense": false} {
		if err := catalog.CheckListen(addr, false); (err == nil) != ok {
			t.Errorf("CheckListen(%q): %v", addr, err)
		}
	}
	if err := catalog.CheckListen("0.0.0.0:8080", true); err != nil {
		t.Error(err)
	}
}

func TestBuildWritesTheSamePages(t *testing.T) {
	c := testCatalog()
	dir := t.TempDir()
	if _, err := c.Build(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"index.html", "tier/official/index.html", "a/reg.example-5000-x-good/index.html", "static/style.css", "api/v1/artifacts.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "tier/official/index.html"))
	if s := string(b); !strings.Contains(s, "x/good") || strings.Contains(s, "x/evil") || !strings.Contains(s, `href="../../static/style.css"`) {
		t.Errorf("tier/official:\n%s", s)
	}
}

func TestExporterPlatforms(t *testing.T) {
	ce := entry("node-exporter", "exporter", tier.Repository, tier.Repository, "an exporter")
	ce.Versions[0].Platforms = []string{"linux/amd64", "linux/arm64"}
	h := catalog.New(&tierpack.CatalogResult{Entries: []tierpack.CatalogEntry{ce}}, time.Now()).Handler()
	_, body := get(t, h, "GET", "/a/reg.example-5000-x-node-exporter/")
	if !strings.Contains(body, "<dt>Platforms</dt><dd><ul class=\"platforms\"><li>linux/amd64</li><li>linux/arm64</li></ul>") || strings.Contains(body, "helm pull") {
		t.Errorf("exporter page:\n%s", body)
	}
}

// TestServeStopsWithContext serves on a real socket and checks that
// cancelling the context ends Serve without an error.
func TestServeStopsWithContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- testCatalog().Serve(ctx, ln) }()
	res, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /: %d", res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
}
