package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tierpack/tierpack/internal/registrytest"
)

// BenchmarkFollowOnce times `tierpack follow --once` over 100 installed
// artifacts (TIERPACK_BENCH_ARTIFACTS overrides the count) against a real
// in-process Distribution registry, with nothing new to install, and
// reports the registry requests each check makes (the per-process /v2/
// version probe is not counted, as in TestFollowRequestBudget). Each
// artifact is its own repository and contribution (the installations are
// keyed by the contribution's name), pushed once, signed by the CI key, and
// installed at its tier; one warm-up check runs before the timed ones.
//
//	PATH=$PWD/bin:$PATH go test ./cmd/tierpack -run '^$' -bench BenchmarkFollowOnce -benchtime 3x -count 1 -v
//
// Variants: tier=repository (pushed at repository) and tier=official
// (pushed at repository, then promoted to official with the CI key, which
// the test home trusts for every tier).
func BenchmarkFollowOnce(b *testing.B) {
	n := 100
	if s := os.Getenv("TIERPACK_BENCH_ARTIFACTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("TIERPACK_BENCH_ARTIFACTS=%q: want a positive count", s)
		}
		n = v
	}
	for _, tierName := range []string{"repository", "official"} {
		b.Run(fmt.Sprintf("tier=%s/artifacts=%d", tierName, n), func(b *testing.B) {
			benchFollowOnce(b, tierName, n)
		})
	}
}

// followBench is one benchmark's tierpack home and working folder.
type followBench struct {
	b   *testing.B
	env []string
	dir string
}

// run runs the tierpack binary and fails the benchmark unless it exits 0.
func (f *followBench) run(args ...string) string {
	f.b.Helper()
	cmd := exec.Command(tierpackBin, args...)
	cmd.Dir, cmd.Env, cmd.Stdin = f.dir, f.env, nil
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		f.b.Fatalf("tierpack %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// writeBenchContribution writes a repository-ready script contribution named
// name at version 1.0.0 into dir (OWNERS, source and revision included, as
// the repository tier's policy asks).
func (f *followBench) writeBenchContribution(dir, name string) {
	f.b.Helper()
	files := map[string]string{
		"tierpack.yaml": "name: " + name + "\nversion: 1.0.0\ntype: script\ntier: repository\nlicense: Apache-2.0\n" +
			"source: {url: https://github.com/falcosecurity/" + name + ", revision: abc123}\n",
		"README.md":   "# " + name + "\n",
		"OWNERS":      "approvers: [jane]\nreviewers: [sam]\n",
		"version.txt": "1.0.0\n",
		"run.sh":      "#!/bin/sh\necho " + name + "\n",
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.b.Fatal(err)
	}
	for file, body := range files {
		mode := os.FileMode(0o644)
		if file == "run.sh" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, file), []byte(body), mode); err != nil {
			f.b.Fatal(err)
		}
	}
}

// followCheckLine is the part of a `follow --once --output json` line the
// benchmark checks.
type followCheckLine struct {
	Changed bool   `json:"changed"`
	Error   string `json:"error"`
	Result  *struct {
		Updates []struct {
			Name   string `json:"name"`
			Action string `json:"action"`
		} `json:"updates"`
	} `json:"result"`
}

func benchFollowOnce(b *testing.B, tierName string, n int) {
	var log requestLog
	reg := registrytest.New(b, registrytest.WithHandlerWrapper(log.wrap))
	home := b.TempDir()
	f := &followBench{b: b, env: testEnv(b, home), dir: b.TempDir()}

	setup := time.Now()
	src := filepath.Join(f.dir, "contribution")
	for i := range n {
		name := fmt.Sprintf("follow-bench-%03d", i)
		repo := reg.Host + "/bench/" + name
		f.writeBenchContribution(src, name)
		f.run("push", src, repo) // signed at repository by the CI key ($TIERPACK_SIGNING_KEY)
		if tierName == "official" {
			f.run("promote", repo+":1.0.0", "--to", "official", "--key", ciKey, "--reason", "benchmark", "--by", "bench")
		}
		f.run("install", repo, "--tier", tierName, "-o", filepath.Join(f.dir, "installed", name))
	}
	f.run("follow", "--once") // warm-up: the first check may fill the cache
	b.Logf("setup: %d artifacts pushed%s and installed at %s in %s", n,
		map[bool]string{true: ", promoted", false: ""}[tierName == "official"], tierName, time.Since(setup).Round(time.Millisecond))

	var total int
	var first []string
	for b.Loop() {
		stop := log.count()
		out := f.run("follow", "--once", "--output", "json")
		seen := stop()
		total += len(seen)
		if first == nil {
			first = seen
		}
		var c followCheckLine
		if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &c); err != nil {
			b.Fatalf("follow --once --output json: %v\n%s", err, out)
		}
		if c.Changed || c.Error != "" || c.Result == nil || len(c.Result.Updates) != n {
			b.Fatalf("follow --once with nothing new over %d artifacts:\n%s", n, out)
		}
		for _, u := range c.Result.Updates {
			if u.Action != "unchanged" {
				b.Fatalf("follow --once with nothing new: %s %s\n%s", u.Name, u.Action, out)
			}
		}
	}
	checks := float64(b.N)
	perCheck := float64(total) / checks
	b.ReportMetric(perCheck, "requests/check")
	b.ReportMetric(perCheck/float64(n), "requests/artifact")
	b.ReportMetric(float64(b.Elapsed())/1e6/checks/float64(n), "ms/artifact")

	b.Logf("one check, %d requests for %d artifacts, by kind:\n%s", len(first), n, requestKinds(first))
	if len(first) > 4*n {
		// Every artifact makes the same requests: show one artifact's, in order.
		one := slices.DeleteFunc(slices.Clone(first), func(r string) bool {
			return !strings.Contains(r, "/v2/bench/follow-bench-000/")
		})
		b.Logf("over the budget of 4 requests per artifact; follow-bench-000's %d requests in that check, in order:\n  %s",
			len(one), strings.Join(one, "\n  "))
	}
}

var (
	benchRepoPath = regexp.MustCompile(`^/v2/bench/follow-bench-\d+/`)
	benchDigest   = regexp.MustCompile(`sha256:[0-9a-f]{64}`)
	benchSigTag   = regexp.MustCompile(`sha256-[0-9a-f]{64}`) // cosign's legacy tags
)

// requestKinds groups requests by method and path, the repository,
// digests and cosign's digest tags replaced by placeholders, most frequent
// first.
func requestKinds(seen []string) string {
	counts := map[string]int{}
	for _, r := range seen {
		method, uri, _ := strings.Cut(r, " ")
		uri = benchRepoPath.ReplaceAllString(uri, "/v2/{repo}/")
		uri = benchDigest.ReplaceAllString(uri, "{digest}")
		uri = benchSigTag.ReplaceAllString(uri, "sha256-{hex}")
		counts[method+" "+uri]++
	}
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, b string) int {
		if counts[a] != counts[b] {
			return counts[b] - counts[a]
		}
		return strings.Compare(a, b)
	})
	var sb strings.Builder
	for _, k := range kinds {
		fmt.Fprintf(&sb, "  %5d  %s\n", counts[k], k)
	}
	return sb.String()
}
