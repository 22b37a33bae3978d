package index

import (
	"errors"
	"strings"

	"github.com/tierpack/tierpack/sdk/tier"
)

// Query filters index entries. The zero value matches everything.
type Query struct {
	// Text matches names, descriptions and keywords, case-insensitively:
	// every whitespace-separated word must occur in one of them. Empty
	// matches everything.
	Text string
	// Type matches the contribution type exactly (case-insensitively);
	// empty matches every type.
	Type string
	// Tier keeps versions at or above it, as `tierpack pull --tier` does;
	// None keeps every version, untiered ones included.
	Tier tier.Tier
	// ExactTier keeps only versions of exactly Tier. It needs a Tier.
	ExactTier bool
}

// Validate reports a query that cannot match as the user meant.
func (q Query) Validate() error {
	if q.ExactTier && q.Tier == tier.None {
		return errors.New("an exact-tier query needs a tier")
	}
	return nil
}

// matchesTier reports whether a version of tier t passes the query.
func (q Query) matchesTier(t tier.Tier) bool {
	if q.ExactTier {
		return t == q.Tier
	}
	return t.AtLeast(q.Tier)
}

// Search returns the entries that match q, in the index's order. Each
// result carries only the versions that pass the tier filter; its Latest
// and Tier describe the latest of those (see the package documentation),
// so a result's Reference(LatestVersion) is what `tierpack pull --tier`
// would accept.
func (ix *Index) Search(q Query) []Entry {
	words := strings.Fields(strings.ToLower(q.Text))
	out := []Entry{}
	for _, e := range ix.Entries {
		if q.Type != "" && !strings.EqualFold(e.Type, q.Type) {
			continue
		}
		if !matchesText(e, words) {
			continue
		}
		var vs []Version
		for _, v := range e.Versions {
			if q.matchesTier(v.Tier) {
				vs = append(vs, v)
			}
		}
		if len(vs) == 0 {
			continue
		}
		if len(vs) != len(e.Versions) {
			e.Versions = vs
			e.Latest = latest(vs)
			lv, _ := e.LatestVersion()
			e.Tier = lv.Tier
		}
		out = append(out, e)
	}
	return out
}

func matchesText(e Entry, words []string) bool {
	if len(words) == 0 {
		return true
	}
	fields := []string{strings.ToLower(e.Name), strings.ToLower(e.Description)}
	for _, k := range e.Keywords {
		fields = append(fields, strings.ToLower(k))
	}
	for _, w := range words {
		found := false
		for _, f := range fields {
			if strings.Contains(f, w) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
