// Command falco-demo-exporter is a small Prometheus exporter, the example
// exporter contribution of tierpack: it serves simulated Falco event
// counters in the Prometheus text exposition format using only net/http.
//
//	falco-demo-exporter [-listen-address ADDR] [-metrics-path PATH] [-version]
//
// It logs the address it listens on once it accepts connections, which is
// how tests find the port when ADDR ends in ":0", and stops cleanly on
// SIGINT and SIGTERM (it runs as PID 1 in its container image).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// version is the exporter's version, the one in its tierpack.yaml.
const version = "0.1.0"

// priorities are Falco's rule priorities, most severe first.
var priorities = []string{"emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"}

// exporter holds the simulated state behind the metrics.
type exporter struct {
	start time.Time

	mu      sync.Mutex
	scrapes uint64
	events  map[string]uint64
}

func newExporter(start time.Time) *exporter {
	return &exporter{start: start, events: map[string]uint64{}}
}

// ServeHTTP writes the metrics. Each scrape "sees" a few more events, so
// the counters move like a real Falco's would.
func (e *exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	e.mu.Lock()
	e.scrapes++
	for i, p := range priorities {
		e.events[p] += uint64(i) * e.scrapes % 5
	}
	scrapes := e.scrapes
	events := make(map[string]uint64, len(e.events))
	for k, v := range e.events {
		events[k] = v
	}
	e.mu.Unlock()

	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	writeMetrics(w, e.start, scrapes, events)
}

func writeMetrics(w io.Writer, start time.Time, scrapes uint64, events map[string]uint64) {
	fmt.Fprintln(w, "# HELP falco_demo_exporter_build_info The exporter's version and build platform.")
	fmt.Fprintln(w, "# TYPE falco_demo_exporter_build_info gauge")
	fmt.Fprintf(w, "falco_demo_exporter_build_info{version=%q,goversion=%q,goos=%q,goarch=%q} 1\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintln(w, "# HELP falco_demo_events_total Falco events seen, by rule priority (simulated).")
	fmt.Fprintln(w, "# TYPE falco_demo_events_total counter")
	for _, p := range priorities {
		fmt.Fprintf(w, "falco_demo_events_total{priority=%q} %d\n", p, events[p])
	}
	fmt.Fprintln(w, "# HELP falco_demo_exporter_scrapes_total Scrapes of this endpoint.")
	fmt.Fprintln(w, "# TYPE falco_demo_exporter_scrapes_total counter")
	fmt.Fprintf(w, "falco_demo_exporter_scrapes_total %d\n", scrapes)
	fmt.Fprintln(w, "# HELP process_start_time_seconds Start time of the process since the Unix epoch in seconds.")
	fmt.Fprintln(w, "# TYPE process_start_time_seconds gauge")
	fmt.Fprintf(w, "process_start_time_seconds %d\n", start.Unix())
}

// newMux serves the metrics at metricsPath, a landing page at / and a
// health check at /healthz.
func newMux(metricsPath string, e *exporter) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(metricsPath, e)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<html><head><title>falco-demo-exporter</title></head><body><h1>falco-demo-exporter %s</h1><p><a href=%q>Metrics</a></p></body></html>\n", version, metricsPath)
	})
	return mux
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("falco-demo-exporter: ")
	addr := flag.String("listen-address", ":9376", "`ADDRESS` to serve metrics on (host:port; port 0 picks a free one)")
	metricsPath := flag.String("metrics-path", "/metrics", "URL `PATH` of the metrics")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Printf("falco-demo-exporter %s %s/%s\n", version, runtime.GOOS, runtime.GOARCH)
		return
	}
	if flag.NArg() > 0 {
		log.Fatalf("unexpected arguments %q (see -help)", flag.Args())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *metricsPath); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, addr, metricsPath string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newMux(metricsPath, newExporter(time.Now())), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("serving metrics on http://%s%s", ln.Addr(), metricsPath)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Print("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
