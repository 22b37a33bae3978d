//go:build unix

// Command bench measures tierpack against the tools users would otherwise
// pick, side by side in one run, on this machine:
//
//   - push and pull of 1 MiB, 100 MiB and 1 GiB contributions, each as many
//     small files and as one large file, tierpack vs the ORAS CLI;
//   - push and pull of a Helm chart, tierpack vs helm;
//   - re-push of unchanged content, a second pull of the same digest
//     (served by the cache), plugin start against a bare exec of the same
//     binary, and `tierpack --version` against `oras version`;
//   - the HTTP requests each client makes for the smallest push and pull.
//
// Every client is a separate process talking to one CNCF Distribution
// registry (the Go module, filesystem driver in a temp dir) on loopback,
// started by this program. Each case runs -runs times; the median wall
// time is reported with the peak RSS of the client process. Data is
// half-compressible (each 4 KiB block: 2 KiB text, 2 KiB random), like
// binaries and configuration.
//
//	make bench                      # builds tierpack, installs oras and helm, runs this
//	go run ./bench -tierpack bin/tierpack -oras bin/oras -helm bin/helm -sizes 1M,100M,1G
package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/sirupsen/logrus"

	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
	sdkhost "github.com/tierpack/tierpack/sdk/host"
)

var (
	tierpackBin = flag.String("tierpack", "bin/tierpack", "tierpack binary")
	orasBin     = flag.String("oras", "bin/oras", "ORAS CLI binary")
	helmBin     = flag.String("helm", "bin/helm", "helm binary")
	sizesFlag   = flag.String("sizes", "1M,100M,1G", "contribution sizes")
	runs        = flag.Int("runs", 5, "runs per case (the median is reported)")
	work        = flag.String("work", "", "scratch folder (default: a temp dir)")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type result struct {
	name           string
	tierpack, peer time.Duration
	tpRSS, peerRSS int64 // KiB
	peerName       string
	target         string
	ok             bool
	note           string
	// counted rows report request counts instead of times.
	counted          bool
	count, peerCount int64
	unit             string // of count; "requests" when empty
}

func run() error {
	for _, b := range []*string{tierpackBin, orasBin, helmBin} {
		abs, err := filepath.Abs(*b)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("%s: %w (make bench builds and installs the tools)", *b, err)
		}
		*b = abs
	}
	dir := *work
	if dir == "" {
		d, err := os.MkdirTemp("", "tierpack-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	host, stop, err := startRegistry(filepath.Join(dir, "registry"))
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(os.Stderr, "registry on %s; scratch in %s\n", host, dir)
	env := append(os.Environ(), "TIERPACK_HOME="+filepath.Join(dir, "home"), "DOCKER_CONFIG="+filepath.Join(dir, "docker"),
		"HELM_CONFIG_HOME="+filepath.Join(dir, "helm"), "HELM_CACHE_HOME="+filepath.Join(dir, "helm"), "HELM_DATA_HOME="+filepath.Join(dir, "helm"))

	var results []result
	for _, s := range strings.Split(*sizesFlag, ",") {
		size, err := archive.ParseSize(s)
		if err != nil {
			return err
		}
		for _, shape := range []string{"small-files", "one-file"} {
			name := fmt.Sprintf("%s %s", s, shape)
			fmt.Fprintf(os.Stderr, "== %s\n", name)
			data := filepath.Join(dir, "data", strings.ReplaceAll(name, " ", "-"))
			if err := makeContribution(data, size, shape); err != nil {
				return err
			}
			repo := fmt.Sprintf("%s/bench/%s-%s", host, strings.ToLower(s), shape)
			rs, err := transferCase(env, dir, name, data, repo)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			results = append(results, rs...)
		}
	}
	chart, err := chartCase(env, dir, host)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	results = append(results, chart...)
	verified, err := verifiedCases(env, dir, host)
	if err != nil {
		return fmt.Errorf("verified pulls: %w", err)
	}
	results = append(results, verified...)
	misc, err := miscCases(env, dir, host)
	if err != nil {
		return err
	}
	results = append(results, misc...)
	printTable(results)
	return nil
}

// transferCase: tierpack push vs oras push of the same folder (or file),
// then pulls, then tierpack's re-push and cached second pull.
func transferCase(env []string, dir, name, data, repo string) ([]result, error) {
	var out []result
	// oras pushes the folder (tar+gzip, as `oras push dir` does) or the one
	// file (raw): what a user would do with it.
	orasDir, orasFile := data, "payload"
	if fi, err := os.Stat(filepath.Join(data, "payload", "large.bin")); err == nil && fi.Size() > 0 {
		orasDir, orasFile = filepath.Join(data, "payload"), "large.bin"
	}
	var tpPush, orasPush, tpPull, orasPull []time.Duration
	var tpPushRSS, orasPushRSS, tpPullRSS, orasPullRSS int64
	for i := 0; i < *runs; i++ {
		tag := "r" + strconv.Itoa(i)
		// Fresh repositories each run so every push uploads everything.
		// --no-cache: package from scratch every run, as a first push does.
		d, rss, err := timeCmd(env, data, *tierpackBin, "-q", "--no-cache", "push", data, fmt.Sprintf("%s-tp%d:%s", repo, i, tag))
		if err != nil {
			return nil, err
		}
		tpPush, tpPushRSS = append(tpPush, d), max(tpPushRSS, rss)
		args := []string{"push", "--plain-http", fmt.Sprintf("%s-oras%d:%s", repo, i, tag), orasFile}
		d, rss, err = timeCmd(env, orasDir, *orasBin, args...)
		if err != nil {
			return nil, err
		}
		orasPush, orasPushRSS = append(orasPush, d), max(orasPushRSS, rss)

		outTP := filepath.Join(dir, "pull", "tp", tag)
		d, rss, err = timeCmd(env, dir, *tierpackBin, "-q", "--no-cache", "pull", fmt.Sprintf("%s-tp%d:%s", repo, i, tag), "-o", outTP, "--force")
		if err != nil {
			return nil, err
		}
		tpPull, tpPullRSS = append(tpPull, d), max(tpPullRSS, rss)
		outOras := filepath.Join(dir, "pull", "oras", tag)
		os.RemoveAll(outOras)
		d, rss, err = timeCmd(env, dir, *orasBin, "pull", "--plain-http", "-o", outOras, fmt.Sprintf("%s-oras%d:%s", repo, i, tag))
		if err != nil {
			return nil, err
		}
		orasPull, orasPullRSS = append(orasPull, d), max(orasPullRSS, rss)
		os.RemoveAll(filepath.Join(dir, "pull"))
	}
	out = append(out,
		compare("push "+name, median(tpPush), median(orasPush), tpPushRSS, orasPushRSS, "oras"),
		compare("pull "+name, median(tpPull), median(orasPull), tpPullRSS, orasPullRSS, "oras"))

	// HTTP requests for one push and one pull of new content, each tool.
	tpReqPush, err := countRequests(env, data, *tierpackBin, "-q", "--no-cache", "push", data, repo+"-tpreq:r")
	if err != nil {
		return nil, err
	}
	orasReqPush, err := countRequests(env, orasDir, *orasBin, "push", "--plain-http", repo+"-orasreq:r", orasFile)
	if err != nil {
		return nil, err
	}
	tpReqPull, err := countRequests(env, dir, *tierpackBin, "-q", "--no-cache", "pull", repo+"-tpreq:r", "-o", filepath.Join(dir, "req-tp"), "--force")
	if err != nil {
		return nil, err
	}
	os.RemoveAll(filepath.Join(dir, "req-oras"))
	orasReqPull, err := countRequests(env, dir, *orasBin, "pull", "--plain-http", "-o", filepath.Join(dir, "req-oras"), repo+"-orasreq:r")
	if err != nil {
		return nil, err
	}
	os.RemoveAll(filepath.Join(dir, "req-tp"))
	os.RemoveAll(filepath.Join(dir, "req-oras"))
	out = append(out,
		result{name: "requests: push " + name, count: tpReqPush, peerCount: orasReqPush, peerName: "oras", target: "≤ oras", ok: tpReqPush <= orasReqPush, counted: true},
		result{name: "requests: pull " + name, count: tpReqPull, peerCount: orasReqPull, peerName: "oras", target: "≤ oras", ok: tpReqPull <= orasReqPull, counted: true})

	// Re-push of unchanged content: nothing is packaged or uploaded (the
	// first push below fills the pack cache).
	if _, _, err := timeCmd(env, data, *tierpackBin, "-q", "push", data, fmt.Sprintf("%s-tp0:r0", repo)); err != nil {
		return nil, err
	}
	var re []time.Duration
	for i := 0; i < *runs; i++ {
		d, _, err := timeCmd(env, data, *tierpackBin, "-q", "push", data, fmt.Sprintf("%s-tp0:r0", repo))
		if err != nil {
			return nil, err
		}
		re = append(re, d)
	}
	out = append(out, result{name: "re-push unchanged " + name, tierpack: median(re), target: "< 0.2 s", ok: median(re) < 200*time.Millisecond})

	// Second pull of the same digest: served by the cache.
	ref := fmt.Sprintf("%s-tp0:r0", repo)
	if _, _, err := timeCmd(env, dir, *tierpackBin, "-q", "pull", ref, "-o", filepath.Join(dir, "warm"), "--force"); err != nil {
		return nil, err
	}
	var cached []time.Duration
	var cachedRSS int64
	for i := 0; i < *runs; i++ {
		// Into a fresh folder, like the uncached pulls: replacing a folder
		// costs its deletion, which is not what this measures.
		os.RemoveAll(filepath.Join(dir, "warm"))
		d, rss, err := timeCmd(env, dir, *tierpackBin, "-q", "pull", ref, "-o", filepath.Join(dir, "warm"))
		if err != nil {
			return nil, err
		}
		cached, cachedRSS = append(cached, d), max(cachedRSS, rss)
	}
	os.RemoveAll(filepath.Join(dir, "warm"))
	out = append(out, result{name: "cached pull " + name, tierpack: median(cached), tpRSS: cachedRSS, target: "no blob from the network", ok: true,
		note: fmt.Sprintf("vs %.2fs uncached", median(tpPull).Seconds())})
	return out, nil
}

func compare(name string, tp, peer time.Duration, tpRSS, peerRSS int64, peerName string) result {
	ratio := tp.Seconds() / peer.Seconds()
	return result{name: name, tierpack: tp, peer: peer, tpRSS: tpRSS, peerRSS: peerRSS, peerName: peerName, target: "≤ 1.0×", ok: ratio <= 1.0}
}

// chartCase: tierpack push/pull of a chart vs helm package+push / pull.
func chartCase(env []string, dir, host string) ([]result, error) {
	chart := filepath.Join(dir, "chart")
	if err := copyDir("examples/charts/falco-rules-exporter", chart); err != nil {
		return nil, err
	}
	// At contrib, so tierpack signs nothing: helm push signs nothing either.
	manifest := filepath.Join(chart, "tierpack.yaml")
	b, err := os.ReadFile(manifest)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(manifest, bytes.Replace(b, []byte("tier: repository"), []byte("tier: contrib"), 1), 0o644); err != nil {
		return nil, err
	}
	if _, _, err := timeCmd(env, dir, *helmBin, "package", chart, "-d", dir); err != nil {
		return nil, err
	}
	tgz := filepath.Join(dir, "falco-rules-exporter-0.3.1.tgz")
	var tpPush, helmPush, tpPull, helmPull []time.Duration
	var tpRSS, helmRSS int64
	for i := 0; i < *runs; i++ {
		d, rss, err := timeCmd(env, dir, *tierpackBin, "-q", "--no-cache", "push", chart, fmt.Sprintf("%s/charts-tp%d/falco-rules-exporter", host, i))
		if err != nil {
			return nil, err
		}
		tpPush, tpRSS = append(tpPush, d), max(tpRSS, rss)
		d, rss, err = timeCmd(env, dir, *helmBin, "push", tgz, fmt.Sprintf("oci://%s/charts-helm%d", host, i), "--plain-http")
		if err != nil {
			return nil, err
		}
		helmPush, helmRSS = append(helmPush, d), max(helmRSS, rss)
		d, _, err = timeCmd(env, dir, *tierpackBin, "-q", "--no-cache", "pull", fmt.Sprintf("%s/charts-tp%d/falco-rules-exporter:0.3.1", host, i), "-o", filepath.Join(dir, "c-tp"), "--force", "--keep-archive")
		if err != nil {
			return nil, err
		}
		tpPull = append(tpPull, d)
		os.RemoveAll(filepath.Join(dir, "c-helm"))
		os.MkdirAll(filepath.Join(dir, "c-helm"), 0o755)
		d, _, err = timeCmd(env, dir, *helmBin, "pull", fmt.Sprintf("oci://%s/charts-helm%d/falco-rules-exporter", host, i), "--version", "0.3.1", "--plain-http", "-d", filepath.Join(dir, "c-helm"))
		if err != nil {
			return nil, err
		}
		helmPull = append(helmPull, d)
	}
	return []result{
		compare("push chart (package+push)", median(tpPush), median(helmPush), tpRSS, helmRSS, "helm"),
		compare("pull chart", median(tpPull), median(helmPull), 0, 0, "helm"),
	}, nil
}

// verifiedCases: what users run — a 1 MiB script pushed at repository
// (signed, with its tier record), then promoted to official, pulled with
// --tier repository and --tier official (the trust gate reading and
// checking records and signatures), against oras pulling the same
// artifact with no verification at all; with each pull's requests.
func verifiedCases(env []string, dir, host string) ([]result, error) {
	env = append(env, "COSIGN_PASSWORD=bench")
	data := filepath.Join(dir, "verified")
	if err := makeContribution(data, 1<<20, "small-files"); err != nil {
		return nil, err
	}
	manifest := "name: bench-verified\nversion: 1.0.0\ntype: script\ntier: repository\nlicense: Apache-2.0\n" +
		"source: {url: https://github.com/tierpack/tierpack, revision: bench}\nowners: OWNERS\nfiles: [payload, README.md, OWNERS]\n"
	if err := os.WriteFile(filepath.Join(data, "tierpack.yaml"), []byte(manifest), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(data, "OWNERS"), []byte("approvers: [bench-maintainer]\n"), 0o644); err != nil {
		return nil, err
	}
	if out, err := runIn(env, dir, *tierpackBin, "key", "generate", "bench"); err != nil {
		return nil, fmt.Errorf("key generate: %v\n%s", err, out)
	}
	key, pub := filepath.Join(dir, "bench.key"), filepath.Join(dir, "bench.pub")
	var out []result
	for _, t := range []string{"repository", "official"} {
		ref := fmt.Sprintf("%s/bench/verified-%s:1.0.0", host, t)
		if o, err := runIn(env, dir, *tierpackBin, "--no-cache", "push", data, ref, "--key", key); err != nil {
			return nil, fmt.Errorf("push %s: %v\n%s", ref, err, o)
		}
		if t == "official" {
			if o, err := runIn(env, dir, *tierpackBin, "promote", ref, "--to", "official", "--key", key, "--reason", "bench"); err != nil {
				return nil, fmt.Errorf("promote %s: %v\n%s", ref, err, o)
			}
		}
		var tp, oras []time.Duration
		var tpRSS, orasRSS int64
		for i := 0; i < *runs; i++ {
			d, rss, err := timeCmd(env, dir, *tierpackBin, "-q", "--no-cache", "pull", ref, "--tier", t, "--key", pub, "-o", filepath.Join(dir, "vpull"), "--force")
			if err != nil {
				return nil, err
			}
			tp, tpRSS = append(tp, d), max(tpRSS, rss)
			os.RemoveAll(filepath.Join(dir, "vpull-oras"))
			d, rss, err = timeCmd(env, dir, *orasBin, "pull", "--plain-http", "-o", filepath.Join(dir, "vpull-oras"), ref)
			if err != nil {
				return nil, err
			}
			oras, orasRSS = append(oras, d), max(orasRSS, rss)
		}
		name := "verified pull 1M --tier " + t
		r := compare(name+" (oras: unverified)", median(tp), median(oras), tpRSS, orasRSS, "oras")
		r.target, r.ok = "reported", true // oras checks no tier, record or signature
		out = append(out, r)
		n, err := countRequests(env, dir, *tierpackBin, "-q", "--no-cache", "pull", ref, "--tier", t, "--key", pub, "-o", filepath.Join(dir, "vpull"), "--force")
		if err != nil {
			return nil, err
		}
		m, err := countRequests(env, dir, *orasBin, "pull", "--plain-http", "-o", filepath.Join(dir, "vpull-oras2"), ref)
		if err != nil {
			return nil, err
		}
		out = append(out, result{name: "requests: " + name, count: n, peerCount: m, peerName: "oras", target: "reported", ok: true, counted: true})
	}
	return out, nil
}

// miscCases: start-up and plugin start.
func miscCases(env []string, dir, host string) ([]result, error) {
	// Start-up takes milliseconds, so the machine's drift is as large as
	// the difference: the two are timed in pairs, one after the other,
	// 25 times, and the medians compared.
	var tpVersions, orasVersions []time.Duration
	var tpRSS, orasRSS int64
	for range 25 {
		d, rss, err := timeCmd(env, dir, *tierpackBin, "--version")
		if err != nil {
			return nil, err
		}
		tpVersions, tpRSS = append(tpVersions, d), max(tpRSS, rss)
		if d, rss, err = timeCmd(env, dir, *orasBin, "version"); err != nil {
			return nil, err
		}
		orasVersions, orasRSS = append(orasVersions, d), max(orasRSS, rss)
	}
	tpVersion, orasVersion := median(tpVersions), median(orasVersions)
	// Plugin start: exec + go-plugin handshake + Describe of a built-in,
	// measured in-process through the host's own plugin manager, against a
	// bare exec of the same binary.
	self, _ := filepath.Abs(*tierpackBin)
	var starts, unconfined, bare []time.Duration
	startOne := func(noSandbox bool) (time.Duration, error) {
		m, err := plugin.NewManager(plugin.Options{Self: self, Builtins: []string{"script"}, Reattach: map[string]sdk.ReattachInfo{}, NoSandbox: noSandbox})
		if err != nil {
			return 0, err
		}
		defer m.Close()
		start := time.Now()
		if _, err := m.Get(context.Background(), "script"); err != nil {
			return 0, err
		}
		return time.Since(start), nil
	}
	for i := 0; i < 20; i++ {
		d, err := startOne(false)
		if err != nil {
			return nil, err
		}
		starts = append(starts, d)
		if d, err = startOne(true); err != nil {
			return nil, err
		}
		unconfined = append(unconfined, d)
		start := time.Now()
		start = time.Now()
		if err := exec.Command(self, "--version").Run(); err != nil {
			return nil, err
		}
		bare = append(bare, time.Since(start))
	}
	// Processes a small script pull starts: tierpack extracts a built-in
	// type's standard layers itself, so the debug log names no plugin start.
	small := filepath.Join(dir, "small-script")
	if err := makeContribution(small, 1<<10, "random"); err != nil {
		return nil, err
	}
	smallRef := host + "/bench/small-script:1.0.0"
	if out, err := runIn(env, dir, *tierpackBin, "push", small, smallRef); err != nil {
		return nil, fmt.Errorf("push %s: %v\n%s", smallRef, err, out)
	}
	pullLog, err := runIn(env, dir, *tierpackBin, "pull", smallRef, "-o", filepath.Join(dir, "small-out"), "--force", "--log-level", "debug")
	if err != nil {
		return nil, fmt.Errorf("pull %s: %v\n%s", smallRef, err, pullLog)
	}
	procs := 1 + strings.Count(pullLog, "plugin started")
	over := median(starts) - median(bare)
	_, sandbox, _ := sdkhost.SandboxStatus()
	return []result{
		{name: "tierpack --version vs oras version", tierpack: tpVersion, peer: orasVersion, tpRSS: tpRSS, peerRSS: orasRSS, peerName: "oras",
			target: "≤ 1.2×", ok: tpVersion.Seconds() <= 1.2*orasVersion.Seconds()},
		{name: "plugin start (exec+handshake+Describe)", tierpack: median(starts), target: "≤ bare exec + 10 ms", ok: over <= 10*time.Millisecond,
			note: fmt.Sprintf("bare exec %.3fs", median(bare).Seconds())},
		{name: "processes a small script pull starts", count: int64(procs), unit: "process(es)", target: "1 (tierpack alone)", ok: procs == 1, counted: true},
		{name: "plugin start: sandbox cost", tierpack: median(starts), peer: median(unconfined), peerName: "unconfined", target: "≤ unconfined + 2 ms",
			ok: median(starts)-median(unconfined) <= 2*time.Millisecond, note: sandbox},
	}, nil
}

func printTable(rs []result) {
	fmt.Printf("machine: %d cores, %s/%s, %s\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, time.Now().UTC().Format("2006-01-02"))
	fmt.Println("| case | tierpack | other | ratio | target | met | peak RSS tierpack / other |")
	fmt.Println("|---|---:|---:|---:|---|---|---|")
	for _, r := range rs {
		if r.counted {
			met := "yes"
			if !r.ok {
				met = "**no**"
			}
			unit, other := cmp.Or(r.unit, "requests"), ""
			if r.peerName != "" {
				other = fmt.Sprintf("%s %d", r.peerName, r.peerCount)
			}
			fmt.Printf("| %s | %d %s | %s | | %s | %s | |\n", r.name, r.count, unit, other, r.target, met)
			continue
		}
		other, ratio, rss := "", "", ""
		if r.peer > 0 {
			other = fmt.Sprintf("%s %.3fs", r.peerName, r.peer.Seconds())
			ratio = fmt.Sprintf("%.2f×", r.tierpack.Seconds()/r.peer.Seconds())
		}
		if r.tpRSS > 0 {
			rss = fmt.Sprintf("%d MiB", r.tpRSS/1024)
			if r.peerRSS > 0 {
				rss += fmt.Sprintf(" / %d MiB", r.peerRSS/1024)
			}
		}
		met := "yes"
		if !r.ok {
			met = "**no**"
		}
		note := ""
		if r.note != "" {
			note = " (" + r.note + ")"
		}
		fmt.Printf("| %s | %.3fs%s | %s | %s | %s | %s | %s |\n", r.name, r.tierpack.Seconds(), note, other, ratio, r.target, met, rss)
	}
}

// timeCmd runs a command and returns its wall time and peak RSS (KiB).
func timeCmd(env []string, dir, bin string, args ...string) (time.Duration, int64, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	// Flush the previous case's dirty pages first, so no command pays for
	// another's writeback.
	syscall.Sync()
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.String())
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return d, rss, nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration{}, ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// makeContribution writes a script contribution of about size bytes: as
// 64 KiB files ("small-files") or one file ("one-file"), under payload/.
func makeContribution(dir string, size int64, shape string) error {
	if _, err := os.Stat(filepath.Join(dir, "tierpack.yaml")); err == nil {
		return nil
	}
	payload := filepath.Join(dir, "payload")
	if err := os.MkdirAll(payload, 0o755); err != nil {
		return err
	}
	manifest := fmt.Sprintf("name: bench\nversion: 1.0.0\ntype: script\ntier: contrib\ndescription: benchmark data (%s)\nfiles: [payload, README.md]\n", shape)
	if err := os.WriteFile(filepath.Join(dir, "tierpack.yaml"), []byte(manifest), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("# bench\n"), 0o644); err != nil {
		return err
	}
	if shape == "one-file" {
		return writeData(filepath.Join(payload, "large.bin"), size)
	}
	const per = 64 << 10
	for i := int64(0); i*per < size; i++ {
		sub := filepath.Join(payload, fmt.Sprintf("d%03d", i/256))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		if err := writeData(filepath.Join(sub, fmt.Sprintf("f%05d.dat", i)), min(per, size-i*per)); err != nil {
			return err
		}
	}
	return nil
}

var text = bytes.Repeat([]byte("falco rule: detect shell in container; priority WARNING\n"), 40)

func writeData(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	block := make([]byte, 4096)
	for written := int64(0); written < size; {
		// Text first: a file starting with random bytes could start with
		// "#!", and the script plugin would rightly call it a script.
		copy(block[:2048], text)
		rand.Read(block[2048:])
		n := min(int64(len(block)), size-written)
		if _, err := f.Write(block[:n]); err != nil {
			return err
		}
		written += n
	}
	return nil
}

func copyDir(src, dst string) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		t := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(t, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(t, b, fi.Mode())
	})
}

// startRegistry runs CNCF Distribution in this process on loopback.
// requests counts the HTTP requests the registry served.
var requests atomic.Int64

// countRequests runs bin once and returns how many requests it made.
func countRequests(env []string, dir, bin string, args ...string) (int64, error) {
	before := requests.Load()
	_, _, err := timeCmd(env, dir, bin, args...)
	return requests.Load() - before, err
}

func startRegistry(root string) (string, func(), error) {
	logrus.SetOutput(io.Discard)
	cfg := &configuration.Configuration{
		Storage: configuration.Storage{
			"filesystem":  configuration.Parameters{"rootdirectory": root},
			"delete":      configuration.Parameters{"enabled": true},
			"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
		},
	}
	cfg.HTTP.Secret = "bench-secret-bench-secret"
	app := handlers.NewApp(context.Background(), cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		app.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}

// runIn runs bin in dir with env and returns its combined output.
func runIn(env []string, dir, bin string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	return string(out), err
}
