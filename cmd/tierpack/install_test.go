package main

import (
	"archive/tar"

	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tierpack/tierpack/sdk"

	"github.com/tierpack/tierpack/internal/faultproxy"
	"github.com/tierpack/tierpack/internal/registrytest"
)

// pushVersion pushes a contribution at version and tierName to repo (with
// the test's CI key), its version.txt saying the version, with the extra
// files (extra["tierpack.yaml"] is added to the manifest), named after
// repo's last element; args go before push (e.g. --no-cache).
func pushVersion(t *testing.T, p *tp, repo, version, tierName string, extra map[string][]byte, args ...string) {
	t.Helper()
	dir := p.path("c-" + version)
	writeContribution(t, dir, tierName, "source: {url: https://github.com/falcosecurity/gov-demo, revision: abc123}\n", true)
	b, _ := os.ReadFile(filepath.Join(dir, "tierpack.yaml"))
	yaml := strings.Replace(string(b), "version: 1.0.0", "version: "+version, 1)
	yaml = strings.Replace(yaml, "name: gov-demo", "name: "+path.Base(repo), 1)
	os.WriteFile(filepath.Join(dir, "tierpack.yaml"), []byte(yaml), 0o644)
	os.WriteFile(filepath.Join(dir, "version.txt"), []byte(version+"\n"), 0o644)
	for name, body := range extra {
		if name == "tierpack.yaml" {
			// Added to the manifest, not written over it.
			body = append([]byte(yaml), body...)
		}
		os.WriteFile(filepath.Join(dir, name), body, 0o644)
	}
	p.ok(append(args, "push", dir, repo)...)
}

// The consumer side against a real registry: install takes the newest
// version the gate verifies at the tier asked (not a newer contrib one);
// after that version is demoted, audit exits 4 naming the advisory,
// update rolls back to the newest version still at the tier, and audit
// passes again; uninstall removes it.
func TestInstallUpdateAudit(t *testing.T) {
	reg := registrytest.New(t)
	p := newTP(t)
	repo := reg.Host + "/run/gov-demo"
	pushVersion(t, p, repo, "1.0.0", "repository", nil)
	pushVersion(t, p, repo, "1.1.0", "repository", nil)
	pushVersion(t, p, repo, "1.2.0", "contrib", nil) // newer, but nothing vouches for it
	dest := p.path("installed/gov-demo")

	if _, errs, code := p.run("install", repo, "-o", dest); code != exitUsage || !strings.Contains(errs, "--tier") {
		t.Fatalf("install without --tier: exit %d\n%s", code, errs)
	}
	out := p.ok("install", repo, "--tier", "repository", "-o", dest)
	if !strings.Contains(out, "installed gov-demo 1.1.0") {
		t.Fatalf("install did not take the newest repository version:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "version.txt")); string(b) != "1.1.0\n" {
		t.Fatalf("installed content: %q", b)
	}
	_, errs, _ := p.run("install", repo, "--tier", "repository", "-o", dest)
	if !strings.Contains(errs, "installed already") {
		t.Errorf("a second install is not a no-op:\n%s", errs)
	}
	if out := p.ok("install", repo, "--tier", "repository", "--version", "<1.1", "-o", p.path("pinned")); !strings.Contains(out, "1.0.0") {
		t.Errorf("install within a range:\n%s", out)
	}
	if _, err := os.Stat(dest); err == nil {
		t.Error("installing the same name into another folder left the old one")
	}
	p.ok("uninstall", "gov-demo")
	out = p.ok("install", repo, "--tier", "repository", "-o", dest)
	p.ok("audit")
	if out := p.ok("installed"); !strings.Contains(out, "gov-demo") || !strings.Contains(out, "repository (verified)") {
		t.Errorf("installed:\n%s", out)
	}

	// 1.1.0 is demoted for a vulnerability.
	p.ok("promote", repo+":1.1.0", "--to", "contrib", "--key", ciKey, "--reason-kind", "security", "--advisory", "CVE-2026-4242", "--reason", "token leak")
	out, errs, code := p.run("audit")
	if code != exitTierRefused || !strings.Contains(out+errs, "CVE-2026-4242") {
		t.Fatalf("audit after the demotion: exit %d\n%s\n%s", code, out, errs)
	}
	out = p.ok("update", "--dry-run")
	if !strings.Contains(out, "rolled back 1.1.0") || !strings.Contains(out, "dry run") {
		t.Errorf("update --dry-run:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "version.txt")); string(b) != "1.1.0\n" {
		t.Fatalf("a dry run changed the installation: %q", b)
	}
	out = p.ok("update")
	if !strings.Contains(out, "rolled back 1.1.0") || !strings.Contains(out, "-> 1.0.0") || !strings.Contains(out, "CVE-2026-4242") {
		t.Errorf("update after the demotion:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "version.txt")); string(b) != "1.0.0\n" {
		t.Fatalf("rolled back content: %q", b)
	}
	p.ok("audit")
	if out := p.ok("update"); !strings.Contains(out, "unchanged") {
		t.Errorf("a second update:\n%s", out)
	}
	p.ok("uninstall", "gov-demo")
	if _, err := os.Stat(dest); err == nil {
		t.Error("uninstall left the folder")
	}
	if out := p.ok("installed", "--output", "json"); !strings.Contains(out, `"installed": []`) {
		t.Errorf("installed after uninstall:\n%s", out)
	}
}

// follow, as a sidecar runs it: a new version at the tier is installed at
// the next check, --exec runs after the change, each check is a JSON line,
// and SIGTERM ends it cleanly.
func TestFollow(t *testing.T) {
	reg := registrytest.New(t)
	p := newTP(t)
	repo := reg.Host + "/run/follow"
	pushVersion(t, p, repo, "1.0.0", "repository", nil)
	dest := p.path("rules")
	p.ok("install", repo, "--tier", "repository", "-o", dest)
	if out := p.ok("follow", "--once", "--output", "json"); !strings.Contains(out, `"changed":false`) {
		t.Errorf("follow --once with nothing new:\n%s", out)
	}

	cmd := exec.Command(tierpackBin, "follow", "--every", "300ms", "--jitter", "0%", "--output", "json", "--exec", "echo reload >> "+p.path("reloads"))
	cmd.Dir, cmd.Env = p.dir, testEnv(t, p.home)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pushVersion(t, p, repo, "1.1.0", "repository", nil)
	reloaded := func() bool { b, _ := os.ReadFile(p.path("reloads")); return len(b) > 0 }
	for deadline := time.Now().Add(20 * time.Second); !reloaded() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if !reloaded() {
		t.Fatal("follow never ran --exec after 1.1.0 was pushed")
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "version.txt")); string(b) != "1.1.0\n" {
		t.Errorf("follow did not install 1.1.0: %q", b)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("follow on SIGTERM: %v", err)
	}
	changed := 0
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var c struct {
			Changed bool `json:"changed"`
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if c.Changed {
			changed++
		}
	}
	if changed != 1 {
		t.Errorf("%d checks changed something, want 1:\n%s", changed, out.String())
	}
}

// A kill in the middle of an update leaves the previous installation
// intact, folder and record, and the next update completes.
func TestKilledUpdateKeepsInstallation(t *testing.T) {
	proxy := faultproxy.New()
	reg := registrytest.New(t, registrytest.WithHandlerWrapper(proxy.Wrap))
	p := newTP(t)
	repo := reg.Host + "/run/killed"
	push := func(version string, big int) {
		pushVersion(t, p, repo, version, "repository", map[string][]byte{"big.bin": bytes.Repeat([]byte(version), big)}, "--no-cache")
	}
	push("1.0.0", 1)
	dest := p.path("rules")
	p.ok("install", repo, "--tier", "repository", "-o", dest)
	state, _ := os.ReadFile(filepath.Join(p.home, "installed.json"))
	push("1.1.0", 1<<20)

	// Every blob download of the update is held: kill it there.
	proxy.Set(faultproxy.Rule{Kind: faultproxy.Stall, After: 1 << 10, Stall: time.Minute, Method: "GET", Path: faultproxy.Blob})
	cmd := exec.Command(tierpackBin, "--no-cache", "update")
	cmd.Dir, cmd.Env = p.dir, testEnv(t, p.home)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); proxy.Fired(0) == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if proxy.Fired(0) == 0 {
		t.Fatal("the update never fetched a blob: nothing to kill")
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "version.txt")); string(b) != "1.0.0\n" {
		t.Fatalf("after the kill the installation holds %q", b)
	}
	if now, _ := os.ReadFile(filepath.Join(p.home, "installed.json")); string(now) != string(state) {
		t.Fatalf("the killed update changed the state file:\n%s", now)
	}
	proxy.Set()
	if out := p.ok("update"); !strings.Contains(out, "updated 1.0.0") || !strings.Contains(out, "-> 1.1.0") {
		t.Errorf("the next update:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "version.txt")); string(b) != "1.1.0\n" {
		t.Errorf("after the next update: %q", b)
	}
}

// requestLog counts the requests a registry serves, by method and path.
type requestLog struct {
	mu   sync.Mutex
	on   bool
	seen []string
}

func (l *requestLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		if l.on && r.URL.Path != "/v2/" {
			l.seen = append(l.seen, r.Method+" "+r.URL.RequestURI())
		}
		l.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// count starts counting; the returned func stops and returns what was seen.
func (l *requestLog) count() func() []string {
	l.mu.Lock()
	l.on, l.seen = true, nil
	l.mu.Unlock()
	return func() []string {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.on = false
		return l.seen
	}
}

// A follow check with nothing new costs at most 4 registry requests per
// installed artifact, counted at the registry (the version-probe /v2/ is
// not counted: it is one per process, not per artifact).
func TestFollowRequestBudget(t *testing.T) {
	var log requestLog
	reg := registrytest.New(t, registrytest.WithHandlerWrapper(log.wrap))
	p := newTP(t)
	const n = 3
	for i := range n {
		repo := fmt.Sprintf("%s/run/budget%d", reg.Host, i)
		pushVersion(t, p, repo, "1.0.0", "repository", nil)
		pushVersion(t, p, repo, "1.1.0", "repository", nil)
		p.ok("install", repo, "--tier", "repository", "-o", p.path(fmt.Sprintf("inst%d", i)))
	}
	p.ok("follow", "--once") // warm: the first check may fill the cache
	stop := log.count()
	out := p.ok("follow", "--once", "--output", "json")
	seen := stop()
	if !strings.Contains(out, `"changed":false`) {
		t.Errorf("follow --once:\n%s", out)
	}
	if len(seen) > 4*n {
		t.Errorf("follow --once over %d artifacts made %d requests, want at most %d:\n%s", n, len(seen), 4*n, strings.Join(seen, "\n"))
	}
	t.Logf("%d requests for %d artifacts:\n%s", len(seen), n, strings.Join(seen, "\n"))
}

// A registry that answers follow's check with 429 and Retry-After: 60 is
// waited out, not retried: in the seconds after the refusal, follow asks
// nothing more (a retry storm would ask again every few hundred ms).
func TestFollowWaitsOutRetryAfter(t *testing.T) {
	proxy := faultproxy.New()
	reg := registrytest.New(t, registrytest.WithHandlerWrapper(proxy.Wrap))
	p := newTP(t)
	repo := reg.Host + "/run/limited"
	pushVersion(t, p, repo, "1.0.0", "repository", nil)
	p.ok("install", repo, "--tier", "repository", "-o", p.path("rules"))

	proxy.Set(faultproxy.Rule{Kind: faultproxy.Status, Status: 429, RetryAfter: "60", Path: `^/v2/.+/tags/list`})
	cmd := exec.Command(tierpackBin, "follow", "--once")
	cmd.Dir, cmd.Env = p.dir, testEnv(t, p.home)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(20 * time.Second); proxy.Fired(0) == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if proxy.Fired(0) == 0 {
		t.Fatal("follow never listed the tags")
	}
	select {
	case err := <-exited:
		t.Fatalf("follow did not wait out Retry-After: 60, it ended (%v) after %d refused request(s)", err, proxy.Fired(0))
	case <-time.After(3 * time.Second):
	}
	if n := proxy.Fired(0); n != 1 {
		t.Fatalf("follow asked %d times within 3 s of a Retry-After: 60", n)
	}
}

// Requirements hold through the graph: an artifact whose dependency has no
// version at the tier required is refused, naming the dependency; once the
// dependency is promoted it is installed with it (into its own folder),
// cannot be uninstalled while needed, and goes when what needed it goes.
func TestInstallDependencies(t *testing.T) {
	reg := registrytest.New(t)
	p := newTP(t)
	base, app := reg.Host+"/run/deps-base", reg.Host+"/run/deps-app"
	pushVersion(t, p, base, "1.0.0", "contrib", nil)
	pushVersion(t, p, base, "2.0.0", "repository", nil) // outside the range
	needs := map[string][]byte{"tierpack.yaml": []byte("apiVersion: tierpack.dev/v2\nrequires:\n  artifacts:\n    - name: " + base + "\n      version: ^1.0.0\n")}
	pushVersion(t, p, app, "1.0.0", "repository", needs)

	_, errs, code := p.run("install", app, "--tier", "repository", "-o", p.path("app"))
	if code != exitTierRefused || !strings.Contains(errs, "deps-app (required at repository) needs "+base+" ^1.0.0") || !strings.Contains(errs, "1.0.0: contrib") {
		t.Fatalf("a contrib dependency of a repository install: exit %d\n%s", code, errs)
	}
	if testing.Verbose() {
		t.Log(errs)
	}
	if _, err := os.Stat(p.path("app")); err == nil {
		t.Error("the refused install left its folder")
	}
	if out := p.ok("installed", "--output", "json"); !strings.Contains(out, `"installed": []`) {
		t.Errorf("the refused install was recorded:\n%s", out)
	}

	// The index carries what each version requires.
	if out := p.ok("index", "build", app, "--output", "json"); !strings.Contains(out, `"requires"`) || !strings.Contains(out, "^1.0.0") {
		t.Errorf("the index does not say what deps-app requires:\n%s", out)
	}

	pushVersion(t, p, base, "1.1.0", "repository", nil)
	out := p.ok("install", app, "--tier", "repository", "-o", p.path("app"))
	if !strings.Contains(out, "installed deps-app 1.0.0") || !strings.Contains(out, "with deps-base 1.1.0") {
		t.Fatalf("install with its dependency:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(p.home, "installed", "deps-base", "version.txt")); string(b) != "1.1.0\n" {
		t.Errorf("the dependency's folder holds %q", b)
	}
	if _, errs, code := p.run("uninstall", "deps-base"); code != 1 || !strings.Contains(errs, "required by deps-app") {
		t.Errorf("uninstalling a dependency still needed: exit %d\n%s", code, errs)
	}
	out = p.ok("uninstall", "deps-app")
	if !strings.Contains(out, "uninstalled deps-base") {
		t.Errorf("uninstalling what needed it:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(p.home, "installed", "deps-base")); err == nil {
		t.Error("the dependency's folder is left")
	}

	// A cycle is named, not followed for ever.
	a, b := reg.Host+"/run/cycle-a", reg.Host+"/run/cycle-b"
	pushVersion(t, p, a, "1.0.0", "repository", map[string][]byte{"tierpack.yaml": []byte("apiVersion: tierpack.dev/v2\nrequires:\n  artifacts: [{name: " + b + "}]\n")})
	pushVersion(t, p, b, "1.0.0", "repository", map[string][]byte{"tierpack.yaml": []byte("apiVersion: tierpack.dev/v2\nrequires:\n  artifacts: [{name: " + a + "}]\n")})
	if _, errs, code := p.run("install", a, "--tier", "repository"); code == 0 || !strings.Contains(errs, "cycle") {
		t.Errorf("a cycle: exit %d\n%s", code, errs)
	}

	// A folder on this machine is not the publisher's to name.
	local := reg.Host + "/run/needs-local"
	pushVersion(t, p, local, "1.0.0", "repository", map[string][]byte{"tierpack.yaml": []byte("apiVersion: tierpack.dev/v2\nrequires:\n  artifacts: [{name: \"oci:" + p.path("layout") + "\"}]\n")})
	if _, errs, code := p.run("install", local, "--tier", "repository"); code != exitRefused || !strings.Contains(errs, "a folder on this machine") {
		t.Errorf("a dependency on a local folder: exit %d\n%s", code, errs)
	}

	// requires needs apiVersion v2, so an older tierpack refuses it clearly.
	dir := p.path("v1-requires")
	writeContribution(t, dir, "contrib", "requires:\n  runtimes: {falco: \">=0.40.0\"}\n", false)
	if out, errs, code := p.run("validate", dir); code == 0 || !strings.Contains(out+errs, "apiVersion: tierpack.dev/v2") {
		t.Errorf("requires under apiVersion v1: exit %d\n%s%s", code, out, errs)
	}
}

// A runtime requirement stops an update: the newer version needs a Falco
// this machine does not run, so update stays and says where it stopped
// and why; with the newer Falco declared it moves.
func TestRuntimeRequirementStopsUpdate(t *testing.T) {
	reg := registrytest.New(t)
	p := newTP(t)
	repo := reg.Host + "/run/rt-rules"
	falco := func(rng string) map[string][]byte {
		return map[string][]byte{"tierpack.yaml": []byte("apiVersion: tierpack.dev/v2\nrequires:\n  runtimes:\n    falco: \"" + rng + "\"\n")}
	}
	pushVersion(t, p, repo, "1.0.0", "repository", falco(">=0.39.0"))
	pushVersion(t, p, repo, "1.1.0", "repository", falco(">=0.40.0"))
	out, errs, _ := p.run("install", repo, "--tier", "repository", "--runtime", "falco=0.39.1", "-o", p.path("rules"))
	if !strings.Contains(out, "installed rt-rules 1.0.0") || !strings.Contains(errs, "1.1.0: needs falco >=0.40.0, this machine runs 0.39.1") {
		t.Fatalf("install on Falco 0.39.1:\n%s\n%s", out, errs)
	}
	out = p.ok("update", "--runtime", "falco=0.39.1")
	if !strings.Contains(out, "unchanged") || !strings.Contains(out, "stopped at 1.0.0: 1.1.0: needs falco >=0.40.0, this machine runs 0.39.1") {
		t.Errorf("update on Falco 0.39.1:\n%s", out)
	}
	if _, errs, code := p.run("install", repo+":1.1.0", "--tier", "repository", "--runtime", "falco=0.39.1", "-o", p.path("pinned")); code == 0 || !strings.Contains(errs, "needs falco >=0.40.0") {
		t.Errorf("installing 1.1.0 by tag on Falco 0.39.1: exit %d\n%s", code, errs)
	}
	cmd := exec.Command(tierpackBin, "follow", "--once")
	cmd.Dir, cmd.Env = p.dir, append(testEnv(t, p.home), "TIERPACK_RUNTIMES=falco=0.40.2")
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "updated 1.0.0") {
		t.Errorf("follow on Falco 0.40.2: %v\n%s", err, b)
	}
	if b, _ := os.ReadFile(filepath.Join(p.path("rules"), "version.txt")); string(b) != "1.1.0\n" {
		t.Errorf("after the update on Falco 0.40.2: %q", b)
	}
}

// The air gap: mirror copies what an index names at the tier, with its
// records and signatures, into an oci: bundle (a second run copies
// nothing); with the registry gone, a fresh home adds the bundle as an
// index and installs from it, verified; a registries.yaml mirror pointing
// at the bundle serves a reference to the registry too.
func TestMirrorAirGap(t *testing.T) {
	reg := registrytest.New(t)
	p := newTP(t)
	app, tool := reg.Host+"/run/airgap-app", reg.Host+"/run/airgap-tool"
	pushVersion(t, p, app, "1.0.0", "repository", nil)
	pushVersion(t, p, app, "1.1.0", "contrib", nil)
	pushVersion(t, p, tool, "2.0.0", "repository", nil)
	p.ok("index", "build", app, tool, "-o", p.path("index.yaml"))
	p.ok("index", "add", "falco", p.path("index.yaml"))
	bundle := p.path("bundle")
	out, errs, code := p.run("mirror", "--index", "falco", "--tier", "repository", "oci:"+bundle)
	if code != 0 || !strings.Contains(out, "airgap-app:1.0.0") || !strings.Contains(out, "airgap-tool:2.0.0") || strings.Contains(out, "1.1.0") ||
		!strings.Contains(errs, "left out "+app+":1.1.0") {
		t.Fatalf("mirror: exit %d\n%s\n%s", code, out, errs)
	}
	if out := p.ok("mirror", "--index", "falco", "--tier", "repository", "oci:"+bundle); strings.Contains(out, "copied") {
		t.Errorf("a second mirror copied again:\n%s", out)
	}
	index, _ := os.ReadFile(p.path("index.yaml"))
	reg.Close()

	q := newTP(t)
	q.ok("index", "add", "falco", "oci:"+bundle)
	if got, _ := os.ReadFile(filepath.Join(q.home, "indexes", "falco.yaml")); string(got) != string(index) {
		t.Errorf("the bundle's index is not the index, byte for byte:\n%s", got)
	}
	out = q.ok("install", "airgap-app", "--tier", "repository", "-o", q.path("app"))
	if !strings.Contains(out, "installed airgap-app 1.0.0") || !strings.Contains(out, "verified repository") {
		t.Fatalf("install from the bundle:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(q.path("app"), "version.txt")); string(b) != "1.0.0\n" {
		t.Errorf("installed from the bundle: %q", b)
	}
	q.ok("audit")
	if _, errs, code := q.run("install", "airgap-tool", "--tier", "official", "-o", q.path("tool")); code != exitTierRefused {
		t.Errorf("a repository version installed at official from the bundle: exit %d\n%s", code, errs)
	}

	// registries.yaml: the bundle stands in for the registry.
	r := newTP(t)
	os.WriteFile(filepath.Join(r.home, "registries.yaml"), []byte("registries:\n  "+reg.Host+":\n    mirror: oci:"+bundle+"\n"), 0o644)
	if out := r.ok("install", tool, "--tier", "repository", "-o", r.path("tool")); !strings.Contains(out, "installed airgap-tool 2.0.0") {
		t.Errorf("install through a registries.yaml oci: mirror:\n%s", out)
	}
}

// A demotion reaches the mirror: mirror run again after a mirrored
// version is demoted copies the demotion into the bundle, and an install
// from the bundle, with the registry gone, refuses that version.
func TestMirrorCarriesDemotion(t *testing.T) {
	reg := registrytest.New(t)
	p := newTP(t)
	app := reg.Host + "/run/demoted-app"
	pushVersion(t, p, app, "1.0.0", "repository", nil)
	p.ok("index", "build", app, "-o", p.path("index.yaml"))
	p.ok("index", "add", "falco", p.path("index.yaml"))
	bundle := p.path("bundle")
	p.ok("mirror", "--index", "falco", "--tier", "repository", "oci:"+bundle)
	p.ok("promote", app+":1.0.0", "--to", "contrib", "--key", ciKey, "--reason-kind", "security", "--advisory", "CVE-2026-0001", "--reason", "leaks tokens")
	_, errs, _ := p.run("mirror", "--index", "falco", "--tier", "repository", "oci:"+bundle)
	if !strings.Contains(errs, "mirrored before") {
		t.Errorf("mirror after the demotion:\n%s", errs)
	}
	reg.Close()

	q := newTP(t)
	q.ok("index", "add", "falco", "oci:"+bundle)
	q.refused([]string{"install", "demoted-app", "--tier", "repository", "-o", q.path("app")}, "CVE-2026-0001")
}

// $TIERPACK_HOME/install.yaml gives install its tier, this machine's
// runtimes and a folder per type; a Falco rules artifact's own
// requirements (falcoctl's engine_version_semver, in its config) are
// runtime requirements.
func TestInstallConfigAndFalcoRequirements(t *testing.T) {
	reg := registrytest.New(t)
	p := newTP(t)
	repo := reg.Host + "/rules/falco-shell-rules"
	p.ok("push", filepath.Join(examplesDir(t), "rules", "falco-shell-rules"), repo)
	rules := p.path("rules")
	os.WriteFile(filepath.Join(p.home, "install.yaml"), []byte("tier: contrib\nruntimes:\n  falco-engine: 0.30.0\ndirs:\n  falco-rules: "+rules+"/{name}\n"), 0o644)
	if _, errs, code := p.run("install", repo); code != exitTierRefused || !strings.Contains(errs, "needs falco-engine >=0.31.0, <1.0.0, this machine runs 0.30.0") {
		t.Fatalf("install on an engine older than the rules need: exit %d\n%s", code, errs)
	}
	out := p.ok("install", repo, "--runtime", "falco-engine=0.43.0")
	if !strings.Contains(out, "installed falco-shell-rules 0.1.0") || !strings.Contains(out, "required contrib") || !strings.Contains(out, filepath.Join(rules, "falco-shell-rules")) {
		t.Fatalf("install with the configuration:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(rules, "falco-shell-rules", "falco_shell_rules.yaml")); err != nil {
		t.Error(err)
	}
	// Without a dirs entry the type's plugin says where (Describe's
	// InstallDir, through the real plugin process).
	if out := p.ok("plugin", "list", "--output", "json"); !strings.Contains(out, `"installDir": "/etc/falco/rules.d/{name}"`) {
		t.Errorf("the falco-rules plugin gives no install folder:\n%s", out)
	}
	os.WriteFile(filepath.Join(p.home, "install.yaml"), []byte("tier: contrib\ndirs:\n  falco-rules: relative/{name}\n"), 0o644)
	if _, errs, code := p.run("install", repo, "-o", p.path("x")); code == 0 || !strings.Contains(errs, "absolute folder with {name}") {
		t.Errorf("a relative folder in install.yaml: exit %d\n%s", code, errs)
	}
}

// An artifact's name is the publisher's word, and install makes a folder
// of it: one that names itself "../../escape" is refused (exit 8), and
// nothing is written outside the data folder.
func TestInstallRefusesPathAsName(t *testing.T) {
	reg := registrytest.New(t)
	p := newTP(t)
	repo := remoteRepo(t, reg, "run/evil")
	pushRawScriptWith(t, repo, "1.0.0", map[string]string{sdk.AnnotationName: "../../escape"},
		tarOf(&tar.Header{Typeflag: tar.TypeReg, Name: "f", Mode: 0o644, Size: 1}))
	_, errs, code := p.run("install", reg.Host+"/run/evil", "--tier", "contrib")
	if code != exitRefused || !strings.Contains(errs, `names itself "../../escape"`) {
		t.Fatalf("install of an artifact named ../../escape: exit %d\n%s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(p.home, "..", "escape")); err == nil {
		t.Error("the install wrote outside the data folder")
	}
}
