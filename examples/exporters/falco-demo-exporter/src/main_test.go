package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestMetrics(t *testing.T) {
	srv := httptest.NewServer(newMux("/metrics", newExporter(time.Unix(1700000000, 0))))
	defer srv.Close()
	get := func() string {
		t.Helper()
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
			t.Errorf("Content-Type %q, want the Prometheus text format", ct)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	first := get()
	for _, want := range []string{
		"# TYPE falco_demo_events_total counter\n",
		`falco_demo_events_total{priority="warning"} `,
		"falco_demo_exporter_scrapes_total 1\n",
		"process_start_time_seconds 1700000000\n",
		`falco_demo_exporter_build_info{version="0.1.0",`,
	} {
		if !strings.Contains(first, want) {
			t.Errorf("metrics lack %q:\n%s", want, first)
		}
	}
	if second := get(); !strings.Contains(second, "falco_demo_exporter_scrapes_total 2\n") {
		t.Errorf("the scrape counter did not move:\n%s", second)
	}
	// Every sample line is NAME{LABELS} VALUE or NAME VALUE.
	sample := regexp.MustCompile(`^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9]+$`)
	for _, line := range strings.Split(strings.TrimSpace(first), "\n") {
		if !strings.HasPrefix(line, "# ") && !sample.MatchString(line) {
			t.Errorf("malformed sample line %q", line)
		}
	}

	resp, err := http.Post(srv.URL+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %s", resp.Status)
	}
}
