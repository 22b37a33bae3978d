package main

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/pkg/home"
)

// notRunHere are README command lines TestREADMECommands leaves out, with
// why; each must still be in the README, so the list cannot go stale.
var notRunHere = map[string]string{
	"make test":           "it runs this test",
	"make bench":          "minutes of benchmarks and gigabytes of scratch data",
	"make generate":       ".ci/run runs it, with the protoc it installs",
	"make check-generate": ".ci/run runs it, in a git checkout",
}

// TestREADMECommands runs every command block (```sh) of README.md as
// written, in order, in one bash (so `export` and `cd` carry over), in a
// copy of the repository: against a real CNCF Distribution registry on
// localhost:5000 (the address the README uses), with a fresh HOME,
// TIERPACK_HOME and Docker config, GOBIN first on PATH (the README's
// `go install ./cmd/...` puts tierpack there) and bin/ (oras, helm, from
// make test) after it.
func TestREADMECommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole README (-short)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	script, lines := readmeScript(t, readme)
	if lines < 40 {
		t.Fatalf("found only %d command lines in README.md's ```sh blocks", lines)
	}
	if ln, err := net.Listen("tcp", "127.0.0.1:5000"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("localhost:5000, the README's registry, is taken: %v", err)
		}
		t.Skipf("localhost:5000 is taken (%v); the README's commands need it", err)
	} else {
		ln.Close()
	}
	registrytest.New(t, registrytest.WithAddr("127.0.0.1:5000"))

	// The copy lives at one fixed path, rebuilt each run: the go command's
	// build cache keys a package on its folder, so a fresh folder each time
	// would recompile (and relink) tierpack and its chart plugin for the
	// README's go run, go install and make lines — minutes on two cores.
	// The lock keeps two test runs on this machine out of each other's way.
	work := filepath.Join(os.TempDir(), "tierpack-readme-test")
	lock, err := home.Lock(context.Background(), work+".lock", home.LockOptions{Wait: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := os.RemoveAll(work); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	copyRepo(t, root, work)
	// A fresh HOME for tierpack's data, but the go command keeps this
	// machine's build and module caches (both default to folders under
	// HOME): the README's go run, go install and go build lines would
	// otherwise download every module and compile everything again.
	goEnv, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	caches := strings.Fields(string(goEnv))
	if len(caches) != 3 {
		t.Fatalf("go env GOCACHE GOMODCACHE GOPATH: %q", goEnv)
	}
	hm := t.TempDir()
	env := append(os.Environ(), "GOCACHE="+caches[0], "GOMODCACHE="+caches[1], "GOPATH="+caches[2],
		"HOME="+hm, "TIERPACK_HOME="+filepath.Join(hm, "tierpack"), "DOCKER_CONFIG="+filepath.Join(hm, "docker"),
		"GOBIN="+filepath.Join(hm, "gobin"),
		"PATH="+filepath.Join(hm, "gobin")+string(os.PathListSeparator)+filepath.Join(root, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	env = withoutEnv(env, "COSIGN_PASSWORD", "TIERPACK_SIGNING_KEY", "TIERPACK_PLUGINS_DIR")
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir, cmd.Env = work, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("README commands: %v\n%s", err, out.String())
	}
	if testing.Verbose() {
		t.Logf("README commands, each with the seconds elapsed when it started:\n%s", out.String())
	}
}

// readmeScript turns the ```sh blocks into one script that echoes each
// command (with its README line) before running it, leaving out
// notRunHere; it returns the script and how many commands it runs.
func readmeScript(t *testing.T, readme []byte) (string, int) {
	var b strings.Builder
	n, inBlock, lang := 0, false, ""
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if strings.HasPrefix(text, "```") {
			inBlock, lang = !inBlock, strings.TrimPrefix(text, "```")
			continue
		}
		cmd := strings.TrimSpace(text)
		if !inBlock || lang != "sh" || cmd == "" || strings.HasPrefix(cmd, "#") {
			continue
		}
		if bare, _, _ := strings.Cut(cmd, "#"); notRunHere[strings.TrimSpace(bare)] != "" {
			seen[strings.TrimSpace(bare)] = true
			continue
		}
		n++
		b.WriteString("echo \"[${SECONDS}s] \"" + shellQuote("+ README.md:"+strconv.Itoa(line)+": "+cmd) + "\n" + text + "\n")
	}
	for l := range notRunHere {
		if !seen[l] {
			t.Errorf("notRunHere lists %q, which README.md no longer has: remove it", l)
		}
	}
	return b.String(), n
}

// copyRepo copies the files git tracks (and any untracked, unignored ones)
// from root into dst.
func copyRepo(t *testing.T, root, dst string) {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(root, f)
		fi, err := os.Lstat(src)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the working tree, or a link
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), data, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

func withoutEnv(env []string, names ...string) []string {
	return slices.DeleteFunc(env, func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains(names, k)
	})
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
