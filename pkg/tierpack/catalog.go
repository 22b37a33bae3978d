package tierpack

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/trust"
	"github.com/tierpack/tierpack/sdk/tier"
)

// CatalogRequest asks for the browsable catalog of the configured indexes
// (or Files), and of Repos indexed on the fly.
type CatalogRequest struct {
	// Indexes limits the catalog to configured indexes by name.
	Indexes []string
	// Files reads index files instead of the configured indexes.
	Files []string
	// Repos are references indexed as tierpack index build does; with
	// Repos alone, no configured index is needed.
	Repos []string
	// KeyFiles are trusted public keys beyond the configured ones, for the
	// repositories indexed on the fly and for the histories.
	KeyFiles []string
	// NoHistory skips the registry: versions show what the index says.
	NoHistory bool
	// LookupTimeout bounds each version's history lookup (default 10s).
	LookupTimeout time.Duration
}

// CatalogResult is the catalog: every entry, with every version's history.
type CatalogResult struct {
	Entries []CatalogEntry `json:"entries"`
	// Warnings are indexes that could not be read and were left out.
	Warnings []string `json:"warnings,omitempty"`
}

// CatalogEntry is one contribution. Hit is what tierpack search says about
// it (the same JSON fields); Versions are all its versions, newest first.
type CatalogEntry struct {
	Hit      SearchHit        `json:"hit"`
	Versions []CatalogVersion `json:"versions"`
}

// CatalogVersion is one version and what the registry says about it now.
type CatalogVersion struct {
	index.Version
	// Reference pulls this version.
	Reference string `json:"reference"`
	// Verdict is the trust gate's verdict now, when History is set.
	Verdict string `json:"verdict,omitempty"`
	// History holds the signatures and the tier records; nil when it could
	// not be read (HistoryError says why).
	History      *trust.Report `json:"history,omitempty"`
	HistoryError string        `json:"historyError,omitempty"`
	// Platforms are an image index's platforms (exporters), os/arch.
	Platforms []string `json:"platforms,omitempty"`
}

// Catalog reads the indexes (and indexes req.Repos) and, unless
// NoHistory, asks the registry for each version's signatures and tier
// history. A registry that cannot be reached leaves the index's word and
// the reason the history is missing.
func (c *Client) Catalog(ctx context.Context, req CatalogRequest) (*CatalogResult, error) {
	var named []index.Named
	res := &CatalogResult{Entries: []CatalogEntry{}}
	if len(req.Files) > 0 || len(req.Indexes) > 0 || len(req.Repos) == 0 {
		n, warnings, err := c.readIndexes(SearchRequest{Indexes: req.Indexes, Files: req.Files})
		if err != nil {
			return nil, err
		}
		named = n
		for _, w := range warnings {
			res.Warnings = append(res.Warnings, w.Error())
		}
	}
	if len(req.Repos) > 0 {
		b, err := c.IndexBuild(ctx, IndexBuildRequest{Repos: req.Repos, KeyFiles: req.KeyFiles})
		if err != nil {
			return nil, err
		}
		named = append(named, index.Named{Name: "command line", Index: b.Index})
	}
	gate, err := c.gate(req.KeyFiles)
	if err != nil {
		return nil, err
	}
	c.checkProofs(ctx, gate, named)
	timeout := req.LookupTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	for _, e := range index.Merge(named...).Entries {
		ce := CatalogEntry{Hit: hitOf(e)}
		for _, v := range e.Versions {
			cv := CatalogVersion{Version: v, Reference: e.Repository + "@" + v.Digest}
			if len(v.Tags) > 0 {
				cv.Reference = e.Reference(v)
			}
			if req.NoHistory {
				cv.HistoryError = "not looked up"
			}
			ce.Versions = append(ce.Versions, cv)
		}
		res.Entries = append(res.Entries, ce)
	}
	if !req.NoHistory {
		// A few lookups at a time: one slow registry does not hold up the
		// rest, and none is flooded.
		var wg sync.WaitGroup
		sem := make(chan struct{}, catalogLookups)
		for i := range res.Entries {
			e := &res.Entries[i]
			for j := range e.Versions {
				cv := &e.Versions[j]
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer func() { <-sem; wg.Done() }()
					c.versionHistory(ctx, e.Hit.Repository+"@"+cv.Digest, req.KeyFiles, timeout, cv)
				}()
			}
		}
		wg.Wait()
	}
	return res, nil
}

// catalogLookups bounds the history lookups running at once.
const catalogLookups = 8

// hitOf is what Search says about an entry (Search has filtered its
// versions already; the catalog passes whole entries).
func hitOf(e index.Entry) SearchHit {
	v, _ := e.LatestVersion()
	h := SearchHit{Entry: e, Version: v, Reference: e.Reference(v), ClaimedTier: v.Tier.String()}
	if v.ClaimedTier != tier.None {
		h.ClaimedTier = v.ClaimedTier.String()
	}
	if v.Tier > tier.Contrib {
		h.VerifiedTier = v.Tier.String()
	}
	return h
}

// CatalogHit is what tierpack search says about e, a catalog entry (or a
// filtered copy of one): the same fields as search --output json.
func CatalogHit(e index.Entry) SearchHit { return hitOf(e) }

func (c *Client) versionHistory(ctx context.Context, ref string, keys []string, timeout time.Duration, cv *CatalogVersion) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ins, err := c.Inspect(ctx, InspectRequest{Ref: ref, KeyFiles: keys})
	if err != nil {
		var ke *trust.KeyError
		if errors.As(err, &ke) {
			cv.HistoryError = err.Error()
			return
		}
		cv.HistoryError = fmt.Sprintf("history unavailable: %v", err)
		return
	}
	rep := ins.Report
	cv.History = &rep
	cv.Verdict = ins.Verdict.String()
	for _, m := range ins.Manifests {
		if p := m.Platform; p != nil {
			s := p.OS + "/" + p.Architecture
			if p.Variant != "" {
				s += "/" + p.Variant
			}
			cv.Platforms = append(cv.Platforms, s)
		}
	}
	sort.Strings(cv.Platforms)
}
