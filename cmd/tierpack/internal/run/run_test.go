package run_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/tierpack/tierpack/cmd/tierpack/internal/display"
	"github.com/tierpack/tierpack/cmd/tierpack/internal/run"
	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/internal/testbin"
	"github.com/tierpack/tierpack/pkg/home"
	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk/tier"
)

// tierpackBin serves the built-in plugins (the host re-executes itself as
// `tierpack __plugin TYPE`); testPlugin is the SDK's test plugin, for the
// plugin commands. Both are real processes: only the commands run
// in-process.
var tierpackBin, testPlugin string

func TestMain(m *testing.M) {
	os.Exit(testbin.Run(m,
		testbin.Build{Pkg: "../..", Name: "tierpack", Dst: &tierpackBin},
		testbin.Build{Pkg: "../../../../sdk/plugintest/testdata/testplugin", Name: "testplugin", Dst: &testPlugin},
	))
}

// harness runs commands in-process: one home, one registry, output in
// buffers.
type harness struct {
	t        *testing.T
	dir      string
	client   *tierpack.Client
	out, err bytes.Buffer
}

func newHarness(t *testing.T) *harness {
	t.Setenv("COSIGN_PASSWORD", "pw")
	h := &harness{t: t, dir: t.TempDir()}
	h.client = &tierpack.Client{Home: home.At(filepath.Join(h.dir, "home")), Builtins: []string{"script", "exporter"}, Self: tierpackBin,
		PluginDirs: []string{filepath.Join(h.dir, "plugins")}}
	return h
}

// env returns a fresh Env over cleared buffers; asJSON asks for JSON.
func (h *harness) env(asJSON bool) *run.Env {
	h.out.Reset()
	h.err.Reset()
	e := &run.Env{Ctx: context.Background(), Client: h.client, Display: display.New(&h.out, &h.err, false, false)}
	if asJSON {
		e.JSON = func(v any) error { return json.NewEncoder(&h.out).Encode(v) }
	}
	return e
}

// ok fails the test on err, showing the command's output.
func (h *harness) ok(what string, err error) string {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", what, err, h.out.String(), h.err.String())
	}
	return h.out.String() + h.err.String()
}

func (h *harness) path(p string) string { return filepath.Join(h.dir, p) }

// TestCommandsInProcess runs every command's run function, as the command
// line does after reading flags, against a real Distribution registry:
// init, validate, key generate, push, pull, inspect, tags, sign, verify,
// promote, copy, the index commands, search and list, the plugin
// commands, the cache and store chores, the catalog, login, logout and
// version.
func TestCommandsInProcess(t *testing.T) {
	reg := registrytest.New(t)
	h := newHarness(t)
	repo := reg.Host + "/run/demo"

	// A repository-tier contribution, a key, and what the CLI would do.
	h.ok("init", run.Init(h.env(false), tierpack.InitRequest{Dir: h.path("demo"), Type: "script", Tier: tier.Repository,
		Owners: []string{"jane"}, SourceURL: "https://example.org/demo", SourceRevision: "abc123"}))
	if !strings.Contains(h.err.String(), "created") {
		t.Errorf("init said: %s", h.err.String())
	}
	if out := h.ok("validate", run.Validate(h.env(false), tierpack.ValidateRequest{Dir: h.path("demo")})); !strings.Contains(out, "valid script contribution") {
		t.Errorf("validate said: %s", out)
	}
	h.ok("key generate", run.KeyGenerate(h.env(false), tierpack.KeyRequest{Prefix: h.path("ci")}))
	os.MkdirAll(filepath.Join(h.dir, "home", "trusted-keys"), 0o755)
	pub, _ := os.ReadFile(h.path("ci.pub"))
	os.WriteFile(filepath.Join(h.dir, "home", "trusted-keys", "ci.pub"), pub, 0o644)
	key := tierpack.Key{File: h.path("ci.key")}

	h.ok("push", run.Publish(h.env(false), tierpack.PublishRequest{Dir: h.path("demo"), Ref: repo, Key: key}))
	if !strings.HasPrefix(h.out.String(), repo+"@sha256:") {
		t.Errorf("push printed %q, want the digest reference", h.out.String())
	}
	h.ok("pull", run.Pull(h.env(false), tierpack.PullRequest{Ref: repo + ":0.1.0", OutputDir: h.path("pulled"), MinTier: tier.Repository}))
	if _, err := os.Stat(h.path("pulled/tierpack.yaml")); err != nil {
		t.Errorf("pull wrote nothing: %v", err)
	}
	if out := h.ok("inspect", run.Inspect(h.env(false), tierpack.InspectRequest{Ref: repo + ":0.1.0"})); !strings.Contains(out, "repository (verified)") {
		t.Errorf("inspect:\n%s", out)
	}
	h.ok("inspect --output json", run.Inspect(h.env(true), tierpack.InspectRequest{Ref: repo + ":0.1.0"}))
	var ins struct{ VerifiedTier string }
	if json.Unmarshal(h.out.Bytes(), &ins); ins.VerifiedTier != "repository" {
		t.Errorf("inspect JSON: %s", h.out.String())
	}
	if out := h.ok("tags", run.Tags(h.env(false), tierpack.TagsRequest{Repo: repo})); strings.TrimSpace(out) != "0.1.0" {
		t.Errorf("tags: %q", out)
	}
	h.ok("sign", run.Sign(h.env(false), tierpack.SignRequest{Ref: repo + ":0.1.0", Key: key}))
	h.ok("verify", run.Verify(h.env(false), tierpack.VerifyRequest{Ref: repo + ":0.1.0"}))
	h.ok("promote", run.Promote(h.env(false), tierpack.PromoteRequest{Ref: repo + ":0.1.0", To: tier.Official, Key: key, Reason: "review"}))
	if !strings.Contains(h.err.String(), "promoted") {
		t.Errorf("promote said: %s", h.err.String())
	}
	err := run.Pull(h.env(false), tierpack.PullRequest{Ref: repo + ":0.1.0", OutputDir: h.path("x"), MinTier: tier.Official})
	h.ok("pull --tier official after the promotion", err)
	// Promoting to the tier it is at is an approval: nothing moves.
	h.ok("promote again (an approval)", run.Promote(h.env(false), tierpack.PromoteRequest{Ref: repo + ":0.1.0", To: tier.Official, Key: key}))
	if !strings.Contains(h.err.String(), "this key had approved it already") {
		t.Errorf("a second approval by the same key said: %s", h.err.String())
	}
	h.ok("key generate (rotation)", run.KeyGenerate(h.env(false), tierpack.KeyRequest{Prefix: h.path("ci-2027")}))
	h.ok("resign", run.Resign(h.env(false), tierpack.ResignRequest{Ref: repo + ":0.1.0", Key: tierpack.Key{File: h.path("ci-2027.key")}}))
	if !strings.Contains(h.err.String(), "again with key") {
		t.Errorf("resign said: %s", h.err.String())
	}
	h.ok("copy", run.Copy(h.env(false), run.CopyOptions{Src: repo + ":0.1.0", Dst: "oci:" + h.path("mirror")}))

	// The copy carries the trust chain: it pulls at official too.
	h.ok("pull from the copy", run.Pull(h.env(false), tierpack.PullRequest{Ref: "oci:" + h.path("mirror") + ":0.1.0", OutputDir: h.path("y"), MinTier: tier.Official}))
	// A --key file that cannot be read is a usage error (exit 2).
	err = run.Pull(h.env(false), tierpack.PullRequest{Ref: repo + ":0.1.0", OutputDir: h.path("z"), MinTier: tier.Official, KeyFiles: []string{h.path("nope.pub")}})
	if tierpack.CodeOf(err) != tierpack.CodeUsage {
		t.Errorf("pull with a missing --key file: %v (code %d, want usage)", err, tierpack.CodeOf(err))
	}

	// Indexes, search, list.
	h.ok("index build", run.IndexBuild(h.env(false), tierpack.IndexBuildRequest{Repos: []string{repo}, File: h.path("index.yaml")}))
	h.ok("index push", run.IndexPush(h.env(false), run.IndexPushOptions{File: h.path("index.yaml"), Ref: reg.Host + "/run/index"}))
	h.ok("index add", run.IndexAdd(h.env(false), run.IndexAddOptions{Name: "mine", Location: reg.Host + "/run/index"}))
	if out := h.ok("index list", run.IndexList(h.env(false))); !strings.Contains(out, "mine") {
		t.Errorf("index list:\n%s", out)
	}
	if out := h.ok("search", run.Search(h.env(false), tierpack.SearchRequest{Query: index.Query{Text: "demo", Tier: tier.Official}})); !strings.Contains(out, "official (verified)") {
		t.Errorf("search:\n%s", out)
	}
	h.ok("index update", run.IndexUpdate(h.env(false), nil))
	h.ok("catalog build", run.CatalogBuild(h.env(false), run.CatalogBuildOptions{Dir: h.path("site")}))
	if _, err := os.Stat(h.path("site/index.html")); err != nil {
		t.Errorf("catalog build: %v", err)
	}
	h.ok("index remove", run.IndexRemove(h.env(false), "mine"))

	// The catalog server stops with its context.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	e := h.env(false)
	e.Ctx = ctx
	h.ok("catalog serve", run.CatalogServe(e, tierpack.CatalogRequest{Repos: []string{repo}, NoHistory: true}, ln))
	if !strings.Contains(h.out.String(), "serving the catalog") {
		t.Errorf("catalog serve said: %s", h.out.String())
	}

	// Plugins: push, install, list, check, remove.
	dist := h.path("dist")
	os.MkdirAll(dist, 0o755)
	bin, _ := os.ReadFile(testPlugin)
	os.WriteFile(filepath.Join(dist, "tierpack-plugin-good-"+runtime.GOOS+"-"+runtime.GOARCH), bin, 0o755)
	h.ok("plugin push", run.PluginPush(h.env(false), tierpack.PluginPushRequest{Dir: dist, Ref: reg.Host + "/run/plugins/good", Version: "0.0.1"}))
	h.ok("plugin install", run.PluginInstall(h.env(false), tierpack.PluginInstallRequest{Ref: reg.Host + "/run/plugins/good:0.0.1", AllowUnsigned: true}))
	if out := h.ok("plugin list", run.PluginList(h.env(false))); !strings.Contains(out, "good") || !strings.Contains(out, "built-in") {
		t.Errorf("plugin list:\n%s", out)
	}
	h.ok("plugin check", run.PluginCheck(h.env(false), tierpack.PluginCheckRequest{Binary: filepath.Join(dist, "tierpack-plugin-good-"+runtime.GOOS+"-"+runtime.GOARCH), Skip: []string{"validate-good", "validate-bad", "validate-empty", "init", "package", "package-deterministic", "unpack-roundtrip", "contribution-untouched"}}))
	h.ok("plugin remove", run.PluginRemove(h.env(false), "good"))

	// The local store, the cache, versions.
	h.ok("package", run.Publish(h.env(false), tierpack.PublishRequest{Dir: h.path("demo"), Ref: "demo", Key: key}))
	if out := h.ok("store check", run.StoreCheck(h.env(false), tierpack.StoreCheckRequest{})); !strings.Contains(out, "is sound") {
		t.Errorf("store check:\n%s", out)
	}
	h.ok("cache info", run.CacheInfo(h.env(false)))
	h.ok("cache clean", run.CacheClean(h.env(false)))
	if out := h.ok("version", run.Version(h.env(false))); !strings.HasPrefix(out, "tierpack ") {
		t.Errorf("version: %q", out)
	}
}

// TestExitErrors: the commands that end with an exit code of their own
// after their output — an invalid contribution, a damaged store — return
// an ExitError with the documented code.
func TestExitErrors(t *testing.T) {
	h := newHarness(t)
	os.MkdirAll(h.path("bad"), 0o755)
	os.WriteFile(h.path("bad/tierpack.yaml"), []byte("name: bad\nversion: 0.1.0\ntype: script\ntier: contrib\n"), 0o644)
	os.WriteFile(h.path("bad/run.sh"), []byte("no shebang\n"), 0o755)
	err := run.Validate(h.env(false), tierpack.ValidateRequest{Dir: h.path("bad")})
	if ee, ok := err.(*run.ExitError); !ok || ee.ExitCode() != int(tierpack.CodeInvalid) {
		t.Errorf("validate of an invalid contribution: %v", err)
	}
	h.ok("init", run.Init(h.env(false), tierpack.InitRequest{Dir: h.path("good"), Type: "script", Tier: tier.Contrib}))
	h.ok("package", run.Publish(h.env(false), tierpack.PublishRequest{Dir: h.path("good"), Ref: "good"}))
	os.WriteFile(filepath.Join(h.dir, "home", "store", "index.json"), nil, 0o644)
	err = run.StoreCheck(h.env(false), tierpack.StoreCheckRequest{})
	if ee, ok := err.(*run.ExitError); !ok || ee.ExitCode() != int(tierpack.CodeError) || !strings.Contains(h.err.String(), "is damaged") {
		t.Errorf("store check of a damaged store: %v\n%s", err, h.err.String())
	}
}

// TestLoginLogout runs login and logout against a registry that wants
// credentials.
func TestLoginLogout(t *testing.T) {
	reg := registrytest.New(t, registrytest.WithBasicAuth("alice", "s3cret"))
	h := newHarness(t)
	t.Setenv("DOCKER_CONFIG", h.path("docker"))
	if out := h.ok("login", run.Login(h.env(false), run.LoginOptions{Host: reg.Host, Credential: auth.Credential{Username: "alice", Password: "s3cret"}})); !strings.Contains(out, "logged in") {
		t.Errorf("login said: %s", out)
	}
	if err := run.Login(h.env(false), run.LoginOptions{Host: reg.Host, Credential: auth.Credential{Username: "alice", Password: "wrong"}}); tierpack.CodeOf(err) != tierpack.CodeAuth {
		t.Errorf("login with a wrong password: %v (code %d)", err, tierpack.CodeOf(err))
	}
	h.ok("logout", run.Logout(h.env(false), reg.Host))
}
