package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk/archive/archivetest"
)

// The embedded local store survives a kill at any point of a push: these
// tests SIGKILL real tierpack processes while they write the store's
// index.json (issue 19), then check that nothing pushed before was lost.

const repoSource = "source: {url: https://github.com/falcosecurity/gov-demo, revision: abc123}\n"

// storeBaseline pushes gov-demo:1.0.0 at repository into p's local store
// (signed by the CI key: a tier record and signatures are attached) and
// promotes it to official (a second manifest, record and signatures).
func storeBaseline(t *testing.T, p *tp) {
	t.Helper()
	writeContribution(t, p.path("base"), "repository", repoSource, true)
	p.ok("push", p.path("base"), "gov-demo")
	p.ok("promote", "gov-demo:1.0.0", "--to", "official", "--key", ciKey, "--reason", "core review")
	if out := p.ok("inspect", "gov-demo:1.0.0"); !strings.Contains(out, "official (verified)") {
		t.Fatalf("baseline not verified:\n%s", out)
	}
}

// checkStoreIntact checks what must survive any kill: the store is sound,
// every tag in want is listed and pulls, and gov-demo:1.0.0 still pulls
// at --tier official (its tier records and signature are found).
func checkStoreIntact(t *testing.T, p *tp, what string, want ...string) {
	t.Helper()
	if out, errs, code := p.run("store", "check"); code != 0 {
		t.Fatalf("%s: store check exit %d\n%s%s", what, code, out, errs)
	}
	for _, ref := range want {
		name, tag, _ := strings.Cut(ref, ":")
		out, errs, code := p.run("tags", name)
		if code != 0 || !strings.Contains("\n"+out, "\n"+tag+"\n") {
			t.Fatalf("%s: tags %s (exit %d) lacks %s:\n%s%s", what, name, code, tag, out, errs)
		}
		p.ok("pull", ref, "-o", p.path("check-pull"), "--force")
	}
	p.ok("pull", "gov-demo:1.0.0", "--tier", "official", "-o", p.path("check-pull"), "--force")
}

// startPaused starts tierpack with args; it pauses at its n-th index write
// (IndexPauseEnv) unless it finishes first. It returns whether it paused;
// if so it has been SIGKILLed there.
func startPaused(t *testing.T, p *tp, n int, args ...string) (paused bool) {
	t.Helper()
	marker := filepath.Join(t.TempDir(), "paused")
	cmd := exec.Command(tierpackBin, args...)
	cmd.Dir = p.dir
	cmd.Env = append(testEnv(t, p.home), fmt.Sprintf("%s=%d:%s", target.IndexPauseEnv, n, marker))
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("tierpack %s failed before pausing: %v\n%s", strings.Join(args, " "), err, errb.String())
			}
			return false
		case <-deadline:
			cmd.Process.Kill()
			<-done
			t.Fatalf("tierpack %s neither paused nor finished", strings.Join(args, " "))
		case <-time.After(5 * time.Millisecond):
			if _, err := os.Stat(marker); err == nil {
				cmd.Process.Kill()
				<-done
				return true
			}
		}
	}
}

// TestKillAtEveryIndexWrite: a push (signed, at repository: a manifest,
// a tier record, signatures and tags, each an index write) is killed
// between writing the new index.json and renaming it into place, at every
// such write in turn. Each time, everything pushed before is still there.
func TestKillAtEveryIndexWrite(t *testing.T) {
	p := newTP(t)
	storeBaseline(t, p)
	writeContribution(t, p.path("next"), "repository", repoSource+"description: the next one\n", true)
	writes := 0
	for n := 1; ; n++ {
		// A new version each round, so every round writes the same way.
		next := p.path(fmt.Sprintf("next-%d", n))
		writeContribution(t, next, "repository", repoSource, true)
		manifest := filepath.Join(next, "tierpack.yaml")
		b, _ := os.ReadFile(manifest)
		os.WriteFile(manifest, bytes.Replace(b, []byte("version: 1.0.0"), []byte(fmt.Sprintf("version: 2.0.%d", n)), 1), 0o644)
		if !startPaused(t, p, n, "push", next, "gov-demo") {
			writes = n - 1
			break
		}
		checkStoreIntact(t, p, fmt.Sprintf("killed at index write %d", n), "gov-demo:1.0.0")
		if n > 50 {
			t.Fatal("a push made more than 50 index writes")
		}
	}
	if writes < 3 {
		t.Fatalf("the push made %d index writes; expected the manifest, its record, signatures and the tag", writes)
	}
	t.Logf("killed a signed push at each of its %d index writes; nothing was lost", writes)
	// What the killed writers left (temporary index files) is gone after
	// the next write.
	p.ok("push", p.path("next"), "gov-demo:next")
	if left, _ := filepath.Glob(filepath.Join(p.home, "store", ".tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left in the store: %v", left)
	}
}

// TestRandomKillsDuringPushes: 25 local-store pushes, each SIGKILLed at a
// random moment of its run. After each, the store is sound and every
// version pushed (and finished) before is still listed and pulls.
func TestRandomKillsDuringPushes(t *testing.T) {
	p := newTP(t)
	storeBaseline(t, p)
	// How long a push takes here, to spread the kills over it.
	writeContribution(t, p.path("probe"), "repository", repoSource, true)
	start := time.Now()
	p.ok("push", p.path("probe"), "probe")
	span := time.Since(start)
	var done []string
	for i := range 25 {
		dir := p.path(fmt.Sprintf("v%d", i))
		writeContribution(t, dir, "repository", repoSource, true)
		manifest := filepath.Join(dir, "tierpack.yaml")
		b, _ := os.ReadFile(manifest)
		os.WriteFile(manifest, bytes.Replace(b, []byte("version: 1.0.0"), []byte(fmt.Sprintf("version: 3.0.%d", i)), 1), 0o644)
		cmd := exec.Command(tierpackBin, "push", dir, "gov-demo")
		cmd.Dir = p.dir
		cmd.Env = testEnv(t, p.home)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.Int64N(int64(span * 13 / 10))))
		cmd.Process.Kill()
		if err := cmd.Wait(); err == nil {
			done = append(done, fmt.Sprintf("gov-demo:3.0.%d", i))
		}
		checkStoreIntact(t, p, fmt.Sprintf("kill %d", i+1), append([]string{"gov-demo:1.0.0"}, done...)...)
	}
	t.Logf("25 kills over %s pushes; %d pushes finished before their kill", span.Round(time.Millisecond), len(done))
}

// TestStoreRepair: an index.json truncated by hand is reported with the
// command that repairs it; store check --repair restores the tags from the
// journal, and tier records and signatures stay findable. Without the
// journal, a promoted version's tag goes to the manifest the latest
// trusted record names, not to the older one. An oci: layout is repaired
// the same way.
func TestStoreRepair(t *testing.T) {
	p := newTP(t)
	storeBaseline(t, p)
	writeContribution(t, p.path("other"), "contrib", "", false)
	b, _ := os.ReadFile(p.path("other/tierpack.yaml"))
	os.WriteFile(p.path("other/tierpack.yaml"), bytes.Replace(b, []byte("name: gov-demo"), []byte("name: other"), 1), 0o644)
	p.ok("push", p.path("other"), "mine/renamed:7")
	index := filepath.Join(p.home, "store", "index.json")
	damage := func() {
		b, err := os.ReadFile(index)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(index, b[:len(b)/2], 0o644)
	}

	damage()
	_, errs, code := p.run("tags", "gov-demo")
	if code != 1 || !strings.Contains(errs, "is damaged") || !strings.Contains(errs, "tierpack store check --repair") {
		t.Fatalf("tags on a damaged store: exit %d\n%s", code, errs)
	}
	if _, _, code := p.run("store", "check"); code != 1 {
		t.Errorf("store check of a damaged store: exit %d, want 1", code)
	}
	out := p.ok("store", "check", "--repair", "--output", "json")
	var res struct {
		Repaired  bool
		Tags      []struct{ Ref, Digest, From string }
		Referrers int
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || !res.Repaired {
		t.Fatalf("repair: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, tg := range res.Tags {
		got[tg.Ref] = tg.From
	}
	for _, ref := range []string{"gov-demo:1.0.0", "mine/renamed:7"} {
		if got[ref] != "journal" {
			t.Errorf("repair did not restore %s from the journal: %v", ref, got)
		}
	}
	if res.Referrers < 3 {
		t.Errorf("repair listed %d referrers; the records and signatures are referrers", res.Referrers)
	}
	if out := p.ok("inspect", "gov-demo:1.0.0"); !strings.Contains(out, "official (verified)") || !strings.Contains(out, "repository -> official") {
		t.Errorf("after repair the record and history are not found:\n%s", out)
	}
	p.ok("pull", "gov-demo:1.0.0", "--tier", "official", "-o", p.path("after-repair"))
	p.ok("pull", "mine/renamed:7", "-o", p.path("renamed"))

	// No journal: two manifests claim gov-demo:1.0.0 (the push and its
	// promotion). The trusted record names the promoted one.
	os.Remove(filepath.Join(p.home, "store", target.JournalFile))
	damage()
	out = p.ok("store", "check", "--repair")
	if !strings.Contains(out, "gov-demo:1.0.0\t") || !strings.Contains(out, "annotations+record") {
		t.Fatalf("repair without a journal:\n%s", out)
	}
	if out := p.ok("inspect", "gov-demo:1.0.0"); !strings.Contains(out, "official (verified)") {
		t.Errorf("the tag went to the older manifest (a rollback):\n%s", out)
	}
	// ...and without a trusted key nothing decides: not restored, listed;
	// a later repair with the key restores it.
	os.Remove(filepath.Join(p.home, "store", target.JournalFile))
	damage()
	trusted := filepath.Join(p.home, "trusted-keys", "ci.pub")
	saved, _ := os.ReadFile(trusted)
	os.Remove(trusted)
	cmd := exec.Command(tierpackBin, "store", "check", "--repair")
	cmd.Env = append(os.Environ(), "TIERPACK_HOME="+p.home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || !strings.Contains(stderr.String(), "not restored: gov-demo:1.0.0") {
		t.Fatalf("repair with no trusted key: %v\n%s", err, stderr.String())
	}
	if _, _, code := p.run("store", "check"); code != 1 {
		t.Errorf("a store with a tag left unrestored checks sound (exit %d)", code)
	}
	os.WriteFile(trusted, saved, 0o644)
	p.ok("store", "check", "--repair")
	if out := p.ok("inspect", "gov-demo:1.0.0"); !strings.Contains(out, "official (verified)") {
		t.Errorf("the second repair did not restore the promoted manifest:\n%s", out)
	}
	p.ok("store", "check")

	// An oci: layout.
	p.ok("copy", "gov-demo:1.0.0", "oci:"+p.path("mirror"))
	os.WriteFile(filepath.Join(p.path("mirror"), "index.json"), nil, 0o644)
	_, errs, code = p.run("pull", "oci:"+p.path("mirror")+":1.0.0", "-o", p.path("m"))
	if code != 1 || !strings.Contains(errs, "store check --repair oci:") {
		t.Fatalf("pull from a damaged layout: exit %d\n%s", code, errs)
	}
	p.ok("store", "check", "--repair", "oci:"+p.path("mirror"))
	p.ok("pull", "oci:"+p.path("mirror")+":1.0.0", "--tier", "official", "-o", p.path("m"))
}

// TestStoreRepairRefusesRollback: when the manifest a tag last named is
// lost, repair does not give the tag to an older manifest it once named;
// it lists it instead.
func TestStoreRepairRefusesRollback(t *testing.T) {
	p := newTP(t)
	storeBaseline(t, p)
	out := p.ok("promote", "gov-demo:1.0.0", "--to", "repository", "--key", ciKey, "--reason", "CVE", "--output", "json")
	var pr struct{ Digest string }
	json.Unmarshal([]byte(out), &pr)
	newer := pr.Digest
	if !strings.HasPrefix(newer, "sha256:") {
		t.Fatalf("promote --output json: no digest:\n%s", out)
	}
	os.Remove(filepath.Join(p.home, "store", "blobs", "sha256", strings.TrimPrefix(newer, "sha256:")))
	os.WriteFile(filepath.Join(p.home, "store", "index.json"), []byte("{"), 0o644)
	stdout, errs, code := p.run("store", "check", "--repair")
	if code != 0 || strings.Contains(stdout, "gov-demo:1.0.0\t") || !strings.Contains(errs, "not restored: gov-demo:1.0.0") || !strings.Contains(errs, "roll it back") {
		t.Fatalf("repair with the current manifest lost: exit %d\n%s%s", code, stdout, errs)
	}
	if _, _, code := p.run("pull", "gov-demo:1.0.0", "-o", p.path("x")); code != int(tierpack.CodeNotFound) {
		t.Errorf("the lost version pulls (exit %d): it was rolled back", code)
	}
}

// TestParallelForcedPulls: 20 pulls into one folder at once all succeed,
// one after another, and leave nothing beside it.
func TestParallelForcedPulls(t *testing.T) {
	p := newTP(t)
	dir := p.path("big")
	writeContribution(t, dir, "contrib", "", false)
	noise := make([]byte, 8<<20)
	for i := range noise {
		noise[i] = byte(rand.Uint32())
	}
	os.WriteFile(filepath.Join(dir, "data.bin"), noise, 0o644)
	p.ok("push", dir, "big")
	parent := p.path("out")
	os.MkdirAll(parent, 0o755)
	env := testEnv(t, p.home)
	var wg sync.WaitGroup
	errs := make([]string, 20)
	for i := range 20 {
		wg.Go(func() {
			cmd := exec.Command(tierpackBin, "pull", "big:1.0.0", "-o", filepath.Join(parent, "same"), "--force")
			cmd.Dir = p.dir
			cmd.Env = env
			if b, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Sprintf("%v: %s", err, b)
			}
		})
	}
	wg.Wait()
	for i, e := range errs {
		if e != "" {
			t.Errorf("pull %d: %s", i, e)
		}
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 || entries[0].Name() != "same" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("beside the output: %v, want only same", names)
	}
	if b, err := os.ReadFile(filepath.Join(parent, "same", "data.bin")); err != nil || !bytes.Equal(b, noise) {
		t.Errorf("the output is not the artifact: %v", err)
	}
}

// TestRefusedPullLeavesNoCache: a pull refused for its content (exit 8)
// keeps none of that content, nor its manifest, in the cache.
func TestRefusedPullLeavesNoCache(t *testing.T) {
	reg := registrytest.New(t)
	p := newTP(t)
	repo := remoteRepo(t, reg, "hostile/cache")
	big := archivetest.Gzip(archivetest.Tar(archivetest.File{Name: "a", Mode: 0o644, Body: bytes.Repeat([]byte{'x'}, 2<<20)}))
	evil := archivetest.Gzip(archivetest.Tar(archivetest.File{Name: "../escape", Mode: 0o644, Body: []byte("x")}))
	pushRawScript(t, repo, "evil", big, evil)
	out, code := p.runWith(nil, "pull", reg.Host+"/hostile/cache:evil", "-o", p.path("x"))
	if code != exitRefused {
		t.Fatalf("exit %d, want %d\n%s", code, exitRefused, out)
	}
	var left []string
	filepath.WalkDir(filepath.Join(p.home, "cache", "blobs"), func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			left = append(left, path)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("the refused pull left %d cache entries: %v", len(left), left)
	}
}
