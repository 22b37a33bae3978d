package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk/tier"
)

// page is what every template gets.
type page struct {
	Title   string
	Root    string // relative path to the site's root, "" or "../../"
	Static  bool
	Catalog *Catalog
	Filter  Filter
	Heading string
	Rows    []Row
	Error   string
	Entry   *Entry
}

func (c *Catalog) render(name string, p page) ([]byte, error) {
	p.Catalog = c
	var b bytes.Buffer
	if err := templates().ExecuteTemplate(&b, name, p); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Handler serves the catalog: / (the list, filtered by the query), /a/SLUG/
// (an artifact), /static/, /api/v1/artifacts and /api/v1/artifacts/NAME
// (NAME: a slug, a repository or a unique name). Only GET and HEAD.
func (c *Catalog) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		f, q, err := ParseFilter(r.URL.Query())
		p := page{Title: "Contributions", Filter: f, Heading: f.describe()}
		if err != nil {
			p.Error = "tier: " + err.Error()
			p.Rows = []Row{}
			w.WriteHeader(http.StatusBadRequest)
		} else {
			p.Rows = c.Search(q)
		}
		c.serve(w, "list", p)
	})
	mux.HandleFunc("GET /a/{slug}/{$}", func(w http.ResponseWriter, r *http.Request) {
		e := c.bySlug[r.PathValue("slug")]
		if e == nil {
			http.NotFound(w, r)
			return
		}
		c.serve(w, "artifact", page{Title: e.Hit.Name, Root: "../../", Entry: e})
	})
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(Static())))
	mux.HandleFunc("GET /api/v1/artifacts", func(w http.ResponseWriter, r *http.Request) {
		_, q, err := ParseFilter(r.URL.Query())
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "tier: " + err.Error()})
			return
		}
		hits := []tierpack.SearchHit{}
		for _, row := range c.Search(q) {
			hits = append(hits, row.Hit)
		}
		writeJSON(w, http.StatusOK, map[string]any{"results": hits})
	})
	mux.HandleFunc("GET /api/v1/artifacts/{name...}", func(w http.ResponseWriter, r *http.Request) {
		e := c.Lookup(r.PathValue("name"))
		if e == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such artifact (use a slug, a repository or a unique name)"})
			return
		}
		writeJSON(w, http.StatusOK, artifactJSON{SearchHit: e.Hit, History: e.Versions})
	})
	return secure(mux)
}

// artifactJSON is the search hit's fields and every version's history.
type artifactJSON struct {
	tierpack.SearchHit
	History []tierpack.CatalogVersion `json:"history"`
}

func (c *Catalog) serve(w http.ResponseWriter, name string, p page) {
	b, err := c.render(name, p)
	if err != nil {
		http.Error(w, "rendering the page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// secure refuses every method but GET and HEAD and sets the headers every
// response carries.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "read-only catalog: only GET and HEAD", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Server is an http.Server for h with timeouts on every phase of a request.
func Server(addr string, h http.Handler) *http.Server {
	return &http.Server{Addr: addr, Handler: h,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10}
}

// Serve serves the catalog on ln until ctx is done, then closes the
// server; requests in flight are cut (the pages are read-only).
func (c *Catalog) Serve(ctx context.Context, ln net.Listener) error {
	srv := Server(ln.Addr().String(), c.Handler())
	defer context.AfterFunc(ctx, func() { srv.Close() })()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ErrNotLoopback is an address CheckListen refuses without public.
var ErrNotLoopback = errors.New("not a loopback address")

// CheckListen refuses an address that is not on loopback unless public.
func CheckListen(addr string, public bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %v (want HOST:PORT, e.g. 127.0.0.1:8080)", addr, err)
	}
	if public {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %s: the catalog would be reachable from other machines", ErrNotLoopback, addr)
}

// Built is a catalog written as static files by Build.
type Built struct {
	Dir     string   `json:"dir"`
	Files   []string `json:"files"`
	Entries int      `json:"entries"`
}

// Build writes the catalog as static files under dir: index.html (every
// entry), tier/T/index.html (T or above), a/SLUG/index.html, static/ and
// api/v1/artifacts.json. Links are relative, so the site works from any
// folder of any web host.
func (c *Catalog) Build(dir string) ([]string, error) {
	var written []string
	write := func(rel string, b []byte) error {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		written = append(written, rel)
		return os.WriteFile(p, b, 0o644)
	}
	pages := map[string]page{"index.html": {Title: "Contributions", Rows: c.Search(index.Query{})}}
	for _, t := range []tier.Tier{tier.Contrib, tier.Repository, tier.Official} {
		pages["tier/"+t.String()+"/index.html"] = page{Title: t.String() + " or above", Root: "../../",
			Heading: t.String() + " or above", Rows: c.Search(index.Query{Tier: t}), Filter: Filter{Tier: t.String()}}
	}
	for rel, p := range pages {
		p.Static = true
		b, err := c.render("list", p)
		if err == nil {
			err = write(rel, b)
		}
		if err != nil {
			return written, err
		}
	}
	hits := []tierpack.SearchHit{}
	for _, e := range c.Entries {
		p := page{Title: e.Hit.Name, Root: "../../", Entry: e, Static: true}
		b, err := c.render("artifact", p)
		if err == nil {
			err = write("a/"+e.Slug+"/index.html", b)
		}
		if err != nil {
			return written, err
		}
		hits = append(hits, e.Hit)
	}
	api, _ := json.MarshalIndent(map[string]any{"results": hits}, "", "  ")
	if err := write("api/v1/artifacts.json", append(api, '\n')); err != nil {
		return written, err
	}
	err := fs.WalkDir(Static(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Static(), p)
		if err == nil {
			err = write("static/"+p, b)
		}
		return err
	})
	sort.Strings(written)
	return written, err
}

// describe says a filter as the list heading does, e.g. "repository or above".
func (f Filter) describe() string {
	var parts []string
	if f.Tier != "" {
		if f.Exact {
			parts = append(parts, "exactly "+f.Tier)
		} else {
			parts = append(parts, f.Tier+" or above")
		}
	}
	if f.Type != "" {
		parts = append(parts, "type "+f.Type)
	}
	if f.Text != "" {
		parts = append(parts, "matching “"+f.Text+"”")
	}
	return strings.Join(parts, ", ")
}
