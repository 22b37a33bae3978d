package exporter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tierpack/tierpack/sdk"
)

var _ sdk.Initializer = Plugin{}

// DefaultInitPort is the port a scaffolded exporter listens on.
const DefaultInitPort = 9100

// InitPlatforms are the platforms a scaffolded Go exporter is built for.
var InitPlatforms = []sdk.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

// Init implements sdk.Initializer. With binary=PATH options (`tierpack init
// --type exporter --binary PATH`, repeatable) it declares each binary in
// spec.binaries under the platform its ELF, Mach-O or PE header (and, for
// Go, its build information) names; a binary outside the folder is copied
// to bin/OS-ARCH/NAME. Without one it writes a buildable Go exporter
// (go.mod, src/main.go: net/http, no dependencies) and spec.binaries for
// linux/amd64 and linux/arm64 at bin/OS-ARCH/NAME, with the commands that
// build them in spec.build and in InitResult.Next.
func (Plugin) Init(ctx context.Context, req sdk.InitRequest) (sdk.InitResult, error) {
	port := DefaultInitPort
	if ps := req.Option("port"); len(ps) > 0 {
		p, err := strconv.Atoi(ps[len(ps)-1])
		if err != nil || p < 1 || p > 65535 {
			return sdk.InitResult{}, fmt.Errorf("port %q is not a TCP port (1-65535)", ps[len(ps)-1])
		}
		port = p
	}
	if bins := req.Option("binary"); len(bins) > 0 {
		return initFromBinaries(ctx, req, bins, port)
	}
	return initSkeleton(req, port), nil
}

// initFromBinaries declares the given binaries.
func initFromBinaries(ctx context.Context, req sdk.InitRequest, bins []string, port int) (sdk.InitResult, error) {
	var res sdk.InitResult
	seen := map[string]string{}
	var spec strings.Builder
	spec.WriteString("binaries:\n")
	for _, b := range bins {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		p, err := platformOf(b)
		if err != nil {
			return res, err
		}
		key := p.String()
		if prev, ok := seen[key]; ok {
			return res, fmt.Errorf("%s and %s are both %s binaries: pass one --binary per platform", prev, b, key)
		}
		seen[key] = b
		rel, inside := relInside(req.Dir, b)
		if !inside {
			name := req.Name
			if p.OS == "windows" {
				name += ".exe"
			}
			rel = path.Join("bin", strings.ReplaceAll(key, "/", "-"), name)
			abs, err := filepath.Abs(b)
			if err != nil {
				return res, err
			}
			res.Files = append(res.Files, sdk.InitFile{Path: rel, CopyFrom: abs, Mode: 0o755})
			res.Notes = append(res.Notes, fmt.Sprintf("%s is the %s binary; copied to %s", b, key, rel))
		} else {
			res.Notes = append(res.Notes, fmt.Sprintf("%s is the %s binary", rel, key))
		}
		fmt.Fprintf(&spec, "  %s: %s\n", key, rel)
	}
	fmt.Fprintf(&spec, "port: %d\nmetricsPath: %s\n", port, DefaultMetricsPath)
	res.SpecYAML = spec.String()
	res.Notes = append(res.Notes, fmt.Sprintf("spec.port is %d: make it the port the exporter listens on (--port), and add its arguments as spec.args", port))
	return res, nil
}

// platformOf reads a binary's header and says which platform it is for.
func platformOf(bin string) (sdk.Platform, error) {
	f, err := os.Open(bin)
	if err != nil {
		return sdk.Platform{}, fmt.Errorf("--binary %s: %w", bin, errors.Unwrap(err))
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return sdk.Platform{}, fmt.Errorf("--binary %s is not a regular file: pass the compiled exporter", bin)
	}
	info, err := inspectBinary(f)
	if err != nil {
		return sdk.Platform{}, fmt.Errorf("--binary %s %v: pass the compiled exporter", bin, err)
	}
	if info.NotExecutable != "" {
		return sdk.Platform{}, fmt.Errorf("--binary %s is %s, not an executable: pass the linked exporter", bin, info.NotExecutable)
	}
	var p sdk.Platform
	switch {
	case info.Go["GOOS"] != "":
		p.OS = info.Go["GOOS"]
	case len(info.OSes) == 1:
		p.OS = info.OSes[0]
	case info.Format == "ELF" && (len(info.OSes) == 0 || slices.Contains(info.OSes, "linux")):
		p.OS = "linux" // the System V ABI: what Linux binaries say
	case info.Format == "Mach-O":
		p.OS = "darwin"
	case info.Format == "PE":
		p.OS = "windows"
	default:
		return p, fmt.Errorf("--binary %s: its %s header does not say which operating system it is for: write spec.binaries by hand", bin, info.Format)
	}
	switch {
	case info.Go["GOARCH"] != "":
		p.Architecture = info.Go["GOARCH"]
	case len(info.Arches) == 1:
		p.Architecture = info.Arches[0]
	default:
		return p, fmt.Errorf("--binary %s holds code for %s: pass one binary per architecture", bin, strings.Join(info.Arches, ", "))
	}
	if p.Architecture == "arm" && info.Go["GOARM"] != "" {
		v, _, _ := strings.Cut(info.Go["GOARM"], ",")
		p.Variant = "v" + v
	}
	return p, nil
}

// relInside returns bin relative to dir, slash-separated, and whether it is
// inside dir.
func relInside(dir, bin string) (string, bool) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return "", false
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		dir = r
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// BuildCommand is the command that builds a scaffolded exporter for p into
// bin/OS-ARCH/NAME, run in the contribution folder.
func BuildCommand(name string, p sdk.Platform) string {
	return fmt.Sprintf("CGO_ENABLED=0 GOOS=%s GOARCH=%s go build -trimpath -ldflags=-s -o bin/%s-%s/%s ./src",
		p.OS, p.Architecture, p.OS, p.Architecture, name)
}

// initSkeleton writes a Go exporter to build.
func initSkeleton(req sdk.InitRequest, port int) sdk.InitResult {
	n := req.Name
	var spec strings.Builder
	spec.WriteString("# Build outputs, not committed: spec.build builds them from src/.\nbinaries:\n")
	var cmds []string
	for _, p := range InitPlatforms {
		fmt.Fprintf(&spec, "  %s: bin/%s-%s/%s\n", p, p.OS, p.Architecture, n)
		cmds = append(cmds, BuildCommand(n, p))
	}
	build := strings.Join(cmds, " && ")
	fmt.Fprintf(&spec, "port: %d\nmetricsPath: %s\nargs: [\"-listen-address=:%d\"]\nbuild: %s\n", port, DefaultMetricsPath, port, strconv.Quote(build))
	readme := fmt.Sprintf("# %s\n\nA Prometheus exporter: `%s -listen-address=:%d` serves metrics on\nhttp://localhost:%d%s.\n\nBuild the binaries tierpack.yaml declares (in this folder):\n\n    %s\n\nthen `tierpack validate .` and `tierpack push . REGISTRY/REPO`.\n",
		n, n, port, port, DefaultMetricsPath, strings.Join(cmds, "\n    "))
	return sdk.InitResult{
		Files: []sdk.InitFile{
			{Path: "go.mod", Content: []byte("module " + n + "\n\ngo 1.22\n")},
			{Path: "src/main.go", Content: []byte(strings.NewReplacer("METRIC", metricPrefix(n), "NAME", n, "PORT", strconv.Itoa(port)).Replace(skeletonMain))},
			{Path: "README.md", Content: []byte(readme)},
		},
		SpecYAML: spec.String(),
		Notes:    []string{"wrote a Go exporter in src/ (net/http, no dependencies); build its binaries before validating: the commands are below and in spec.build"},
		Next:     cmds,
	}
}

// metricPrefix turns a contribution name into a Prometheus metric name
// prefix: letters, digits and '_'.
func metricPrefix(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, name)
}

const skeletonMain = `// Command NAME is a Prometheus exporter: it serves its metrics, in
// Prometheus' text format, on -listen-address at /metrics.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("listen-address", ":PORT", "address to serve metrics on")
	flag.Parse()

	start := time.Now()
	var scrapes atomic.Int64
	http.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		n := scrapes.Add(1)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		// Replace these with what your exporter measures.
		fmt.Fprintf(w, "# HELP METRIC_up Whether NAME is running.\n# TYPE METRIC_up gauge\nMETRIC_up 1\n")
		fmt.Fprintf(w, "# HELP METRIC_scrapes_total Scrapes served.\n# TYPE METRIC_scrapes_total counter\nMETRIC_scrapes_total %d\n", n)
		fmt.Fprintf(w, "# HELP METRIC_uptime_seconds Seconds since start.\n# TYPE METRIC_uptime_seconds gauge\nMETRIC_uptime_seconds %g\n", time.Since(start).Seconds())
	})
	log.Printf("serving metrics on %s/metrics", *addr)
	srv := &http.Server{Addr: *addr, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
`
