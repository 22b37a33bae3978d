// Package catalog renders a tierpack catalog (tierpack.CatalogResult) as a
// read-only web site: a list with search and filters, one page per
// artifact (versions, digests, OWNERS approvers, signatures, the tier
// history, the pull command), and a JSON API with the fields of
// `tierpack search --output json`.
//
// Handler serves it; Build writes the same pages as static files. Every
// value from an index or an annotation goes through html/template, so it
// is escaped; pages use no JavaScript and no inline styles, so the server's
// Content-Security-Policy is default-src 'self'.
package catalog

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk/tier"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Static is the embedded static assets (static/style.css).
func Static() fs.FS { sub, _ := fs.Sub(staticFS, "static"); return sub }

// Catalog is the browsable model: the entries of a tierpack.CatalogResult,
// each with a slug naming its page.
type Catalog struct {
	Entries  []*Entry
	Warnings []string
	// Generated says when the catalog was read.
	Generated time.Time
	bySlug    map[string]*Entry
}

// Entry is one contribution and its page's slug.
type Entry struct {
	tierpack.CatalogEntry
	Slug string
}

// New builds the model from the use case's result.
func New(res *tierpack.CatalogResult, generated time.Time) *Catalog {
	c := &Catalog{Warnings: res.Warnings, Generated: generated.UTC(), bySlug: map[string]*Entry{}}
	for _, ce := range res.Entries {
		base := slug(ce.Hit.Repository)
		s := base
		for i := 2; c.bySlug[s] != nil; i++ {
			s = fmt.Sprintf("%s-%d", base, i)
		}
		e := &Entry{CatalogEntry: ce, Slug: s}
		c.bySlug[s] = e
		c.Entries = append(c.Entries, e)
	}
	return c
}

var unsafeSlug = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^a-z0-9._-]+`) })

// slug makes a file and URL path element of a repository reference.
func slug(repo string) string {
	s := strings.Trim(unsafeSlug().ReplaceAllString(strings.ToLower(repo), "-"), "-.")
	if s == "" {
		s = "artifact"
	}
	return s
}

// Filter is the list page's form: text, type, tier (at least, or exactly).
type Filter struct {
	Text  string
	Type  string
	Tier  string
	Exact bool
}

// ParseFilter reads a filter from query parameters q, type, tier, exact.
func ParseFilter(v url.Values) (Filter, index.Query, error) {
	f := Filter{Text: v.Get("q"), Type: v.Get("type"), Tier: v.Get("tier"), Exact: v.Get("exact") != ""}
	q := index.Query{Text: f.Text, Type: f.Type}
	if f.Tier != "" {
		t, err := tier.Parse(f.Tier)
		if err != nil {
			return f, q, err
		}
		q.Tier, q.ExactTier = t, f.Exact
	}
	return f, q, nil
}

// Row is one entry that passed a filter, as tierpack search shows it: the
// hit's version is the latest that passed.
type Row struct {
	Entry *Entry
	Hit   tierpack.SearchHit
}

// Search filters the entries as tierpack search does.
func (c *Catalog) Search(q index.Query) []Row {
	ix := index.New()
	for _, e := range c.Entries {
		ix.Entries = append(ix.Entries, e.Hit.Entry)
	}
	byRepo := map[string]*Entry{}
	for _, e := range c.Entries {
		byRepo[e.Hit.Repository] = e
	}
	rows := []Row{}
	for _, e := range ix.Search(q) {
		h := tierpack.CatalogHit(e)
		h.Entry.Index = e.Index
		rows = append(rows, Row{Entry: byRepo[e.Repository], Hit: h})
	}
	return rows
}

// Lookup finds an entry by slug, repository or (when unique) name.
func (c *Catalog) Lookup(name string) *Entry {
	if e := c.bySlug[name]; e != nil {
		return e
	}
	var found *Entry
	for _, e := range c.Entries {
		if e.Hit.Repository == name {
			return e
		}
		if e.Hit.Name == name {
			if found != nil {
				return nil
			}
			found = e
		}
	}
	return found
}

// Types lists the contribution types present, for the filter.
func (c *Catalog) Types() []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range c.Entries {
		if !seen[e.Hit.Type] {
			seen[e.Hit.Type] = true
			out = append(out, e.Hit.Type)
		}
	}
	return out
}

// Badge is a version's tier as the catalog shows it. The badge is always
// the tier this reader verified (Verified, for a tier above contrib a
// trusted record proves) or contrib and untiered (OwnRisk: "use at your own
// risk"); a claim is never styled as a tier: it is said beside the badge in
// words (Claim), as a demotion is (Demoted).
type Badge struct {
	Tier     string
	Verified bool
	OwnRisk  bool
	// Claim says what the annotation or the index claims beyond Tier, and
	// why it is not believed.
	Claim string
	// Demoted says which tier a demotion took the version from, and why.
	Demoted string
}

// BadgeOf reads the badge off an index version.
func BadgeOf(v index.Version) Badge {
	b := Badge{Tier: v.Tier.String(), Verified: v.Tier > tier.Contrib, OwnRisk: v.Tier <= tier.Contrib}
	if v.ClaimedTier > v.Tier {
		b.Claim = "claims " + v.ClaimedTier.String() + ", unverified"
		if v.Unverified != "" {
			b.Claim += ": " + v.Unverified
		}
	}
	if v.Demoted != nil {
		b.Demoted = v.Demoted.String()
	}
	return b
}

var funcs = template.FuncMap{
	"badge": BadgeOf,
	"short": func(d string) string {
		if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
			return d[:i+13]
		}
		return d
	},
	"pullCommand":  PullCommand,
	"helmCommands": HelmCommands,
	"approvers":    func(ms []index.Maintainer) []string { return byRole(ms, index.RoleApprover) },
	"reviewers":    func(ms []index.Maintainer) []string { return byRole(ms, index.RoleReviewer) },
	"authors":      func(ms []index.Maintainer) []string { return byRole(ms, index.RoleAuthor) },
	"time":         func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"join":         strings.Join,
	"tiers":        func() []string { return []string{"contrib", "repository", "official"} },
}

func byRole(ms []index.Maintainer, role string) []string {
	var out []string
	for _, m := range ms {
		if m.Role == role {
			out = append(out, m.Name)
		}
	}
	return out
}

// PullCommand is the command that pulls v of e at its verified tier.
func PullCommand(e index.Entry, v index.Version) string {
	cmd := "tierpack pull " + e.Reference(v)
	if v.Tier != tier.None {
		cmd += " --tier " + v.Tier.String()
	}
	return cmd
}

// HelmCommands are helm's commands for a chart version in a registry; nil
// for other types and for repositories helm cannot reach (oci: layouts,
// local-store names).
func HelmCommands(e index.Entry, v index.Version) []string {
	if e.Type != "chart" || strings.HasPrefix(e.Repository, "oci:") || !strings.Contains(e.Repository, "/") {
		return nil
	}
	ver := v.Version
	if len(v.Tags) > 0 {
		ver = v.Tags[0]
	}
	ref := "oci://" + e.Repository
	return []string{
		"helm pull " + ref + " --version " + ver,
		"helm install " + e.Name + " " + ref + " --version " + ver,
	}
}

// templates are parsed on first use, not at start-up: every tierpack
// process links this package, few render a page.
var templates = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html"))
})
