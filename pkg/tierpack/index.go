package tierpack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/policy"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/trust"
	"github.com/tierpack/tierpack/sdk/tier"
)

// IndexBuildRequest asks for an index of repositories.
type IndexBuildRequest struct {
	// Repos are references: every tag of a repository, or the one tag or
	// digest a reference names.
	Repos []string
	// File is where to write the index atomically; empty returns it only.
	File string
	// Skipped, if set, is told about each tag left out, with the reason.
	Skipped func(ref, reason string)
	// KeyFiles are trusted public keys beyond the configured ones: only
	// tiers they (and the policy's keys) verify are recorded.
	KeyFiles []string
}

// Skip is one tag left out of an index.
type Skip struct {
	Reference string `json:"reference"`
	Reason    string `json:"reason"`
}

// IndexBuildResult is the index and what was left out of it.
type IndexBuildResult struct {
	File    string       `json:"file"`
	Index   *index.Index `json:"index"`
	Skipped []Skip       `json:"skipped"`
	// Repos counts the repository references read.
	Repos int `json:"-"`
}

// Versions counts the versions of every entry.
func (r *IndexBuildResult) Versions() int {
	n := 0
	for _, e := range r.Index.Entries {
		n += len(e.Versions)
	}
	return n
}

// IndexBuild indexes the contributions in req.Repos, each version at the
// tier the trust gate verifies (the claim is kept beside it).
func (c *Client) IndexBuild(ctx context.Context, req IndexBuildRequest) (*IndexBuildResult, error) {
	gate, err := c.gate(req.KeyFiles)
	if err != nil {
		return nil, err
	}
	var targets []*target.Target
	defer func() {
		for _, t := range targets {
			t.Close()
		}
	}()
	for _, s := range req.Repos {
		t, err := c.open(ctx, s, true)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
	}
	var undecided error
	res := &IndexBuildResult{File: req.File, Skipped: []Skip{}, Repos: len(targets)}
	b := index.Builder{Skipped: func(ref, reason string) {
		res.Skipped = append(res.Skipped, Skip{ref, reason})
		if req.Skipped != nil {
			req.Skipped(ref, reason)
		}
	}, Verify: func(ctx context.Context, t *target.Target, info *oci.Info) index.Proof {
		v := c.verdictOf(ctx, gate, t, info.Root(), info.Annotations)
		if v.Undecided && undecided == nil {
			undecided = errors.New(v.Reason)
		}
		return proofOf(v)
	}}
	if res.Index, err = b.Build(ctx, targets...); err != nil {
		return nil, err
	}
	if undecided != nil {
		// An index that files everything at contrib because the registry
		// was down for a moment would be believed for as long as it is
		// served: write none.
		return nil, fmt.Errorf("%w: not writing the index: %v", trust.ErrUndecided, undecided)
	}
	if req.File != "" {
		if err := res.Index.Save(req.File); err != nil {
			return nil, fmt.Errorf("writing the index: %w", err)
		}
	}
	return res, nil
}

// IndexPushResult reports a published index.
type IndexPushResult struct {
	File      string `json:"file"`
	Reference string `json:"reference"`
	Digest    string `json:"digest"`
	Entries   int    `json:"entries"`
	// Pinned is REPO@DIGEST.
	Pinned string `json:"-"`
}

// IndexPush checks the index file and publishes it as an OCI artifact at
// ref (tag default index.DefaultTag).
func (c *Client) IndexPush(ctx context.Context, file, ref string) (*IndexPushResult, error) {
	ix, data, err := index.ReadFile(file)
	if err != nil {
		return nil, err
	}
	t, err := c.open(ctx, ref, false)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	desc, err := index.Push(ctx, t, data, index.PushOptions{Created: c.Created})
	if err != nil {
		return nil, err
	}
	tag := t.Ref.Tag
	if tag == "" {
		tag = index.DefaultTag
	}
	r := t.Ref.WithTag(tag)
	return &IndexPushResult{File: file, Reference: r.String(), Digest: desc.Digest.String(), Entries: len(ix.Entries),
		Pinned: r.WithTag("").String() + "@" + desc.Digest.String()}, nil
}

// indexConfig is the configured-index store in the home folder.
func (c *Client) indexConfig() (*index.Config, error) {
	h, err := c.home()
	if err != nil {
		return nil, err
	}
	opts, err := c.targetOptions(true)
	if err != nil {
		return nil, err
	}
	return &index.Config{Dir: h.Root(), Fetch: index.FetchOptions{Target: opts, UserAgent: c.Tool}}, nil
}

// IndexAddResult reports a configured index.
type IndexAddResult struct {
	Index   index.Source `json:"index"`
	Entries int          `json:"entries"`
	// SuggestedScopes map the keyless signers the index names (falcoctl's
	// per-entry signature identity) to policy scopes for their
	// repositories, for those this client's policy does not trust there
	// yet. They trust the signer for repository (its own release build);
	// raising one to official is the policy owner's decision. An index's
	// word is not trust: nothing counts until they are in the policy.
	SuggestedScopes []policy.Scope `json:"suggestedScopes,omitempty"`
}

// IndexAdd fetches, checks and records an index as name.
func (c *Client) IndexAdd(ctx context.Context, name, location string) (*IndexAddResult, error) {
	src, err := index.ParseSource(name, location)
	if err != nil {
		return nil, &UsageError{Err: err}
	}
	if src.Kind == index.OCISource {
		src.PlainHTTP = c.Target.PlainHTTP
	}
	cfg, err := c.indexConfig()
	if err != nil {
		return nil, err
	}
	ix, err := cfg.Add(ctx, src)
	if err != nil {
		return nil, err
	}
	res := &IndexAddResult{Index: src, Entries: len(ix.Entries)}
	if gate, err := c.gate(nil); err == nil {
		res.SuggestedScopes = suggestScopes(gate, ix.Entries)
	}
	return res, nil
}

// suggestScopes are scopes trusting, for repository, the signers entries
// name where gate does not trust them yet; one per signer, listing its
// repositories.
func suggestScopes(gate trust.Gate, entries []index.Entry) []policy.Scope {
	var out []policy.Scope
	bySigner := map[index.Signer]int{}
	for _, e := range entries {
		if e.Signer == nil {
			continue
		}
		id := *e.Signer
		g := gate.For(e.Repository)
		if slices.Contains(g.Identities[tier.Repository], id) || slices.Contains(g.Identities[tier.Official], id) {
			continue
		}
		i, ok := bySigner[id]
		if !ok {
			i = len(out)
			bySigner[id] = i
			out = append(out, policy.Scope{Repository: policy.ScopeTier{Identities: []policy.Identity{id}}})
		}
		out[i].Repositories = append(out[i].Repositories, e.Repository)
	}
	return out
}

// IndexRow is one configured index.
type IndexRow struct {
	index.Source
	Entries int        `json:"entries"`
	Updated *time.Time `json:"updated,omitempty"`
	Error   string     `json:"error,omitempty"`
}

// IndexListResult is the configured indexes in order of precedence.
type IndexListResult struct {
	Indexes []IndexRow `json:"indexes"`
}

// IndexList lists the configured indexes in order of precedence.
func (c *Client) IndexList() (*IndexListResult, error) {
	cfg, err := c.indexConfig()
	if err != nil {
		return nil, err
	}
	srcs, err := cfg.Sources()
	if err != nil {
		return nil, err
	}
	rows := []IndexRow{}
	for _, s := range srcs {
		r := IndexRow{Source: s}
		if ix, err := cfg.Read(s); err != nil {
			r.Error = err.Error()
		} else {
			r.Entries = len(ix.Entries)
		}
		if t, ok := cfg.Updated(s); ok {
			t = t.UTC().Truncate(time.Second)
			r.Updated = &t
		}
		rows = append(rows, r)
	}
	return &IndexListResult{Indexes: rows}, nil
}

// IndexRemoveResult is the index IndexRemove forgot.
type IndexRemoveResult struct {
	Removed index.Source `json:"removed"`
}

// IndexRemove forgets a configured index and its cached copy.
func (c *Client) IndexRemove(name string) (*IndexRemoveResult, error) {
	cfg, err := c.indexConfig()
	if err != nil {
		return nil, err
	}
	src, err := cfg.Remove(name)
	if err != nil {
		return nil, err
	}
	return &IndexRemoveResult{Removed: src}, nil
}

// IndexUpdate is one index fetched again.
type IndexUpdate struct {
	Name    string `json:"name"`
	Entries int    `json:"entries"`
	Error   string `json:"error,omitempty"`
}

// ErrNoIndex is returned by the index operations when no index is
// configured (a front end says how to add one).
var ErrNoIndex = errors.New("no index is configured")

// IndexUpdateResult is every index IndexUpdate fetched, or failed to.
type IndexUpdateResult struct {
	Updated []IndexUpdate `json:"updated"`
}

// IndexUpdate fetches the named indexes (all when none) again. An index
// that cannot be fetched keeps its copy; the others are still updated, and
// the error joins every failure (the result still comes back then).
func (c *Client) IndexUpdate(ctx context.Context, names []string) (*IndexUpdateResult, error) {
	cfg, err := c.indexConfig()
	if err != nil {
		return nil, err
	}
	srcs, err := c.sources(cfg, names)
	if err != nil {
		return nil, err
	}
	results := []IndexUpdate{}
	var errs []error
	for _, s := range srcs {
		ix, err := cfg.Update(ctx, s)
		if err != nil {
			errs = append(errs, err)
			results = append(results, IndexUpdate{Name: s.Name, Error: err.Error()})
			continue
		}
		results = append(results, IndexUpdate{Name: s.Name, Entries: len(ix.Entries)})
	}
	return &IndexUpdateResult{Updated: results}, errors.Join(errs...)
}

// sources returns the configured indexes named, or all of them.
func (c *Client) sources(cfg *index.Config, names []string) ([]index.Source, error) {
	if len(names) == 0 {
		srcs, err := cfg.Sources()
		if err == nil && len(srcs) == 0 {
			err = ErrNoIndex
		}
		return srcs, err
	}
	var srcs []index.Source
	for _, n := range names {
		s, err := cfg.Source(n)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, s)
	}
	return srcs, nil
}

// SearchRequest filters the configured indexes (or Files).
type SearchRequest struct {
	index.Query
	// Indexes limits the search to configured indexes by name.
	Indexes []string
	// Files reads index files instead of the configured indexes.
	Files []string
	// KeyFiles are trusted public keys beyond the configured ones: the
	// tiers indexes give are believed only when these (and the policy's
	// keys) verify the records they name.
	KeyFiles []string
}

// SearchHit is one entry that passed the filters.
type SearchHit struct {
	index.Entry
	// Version is the latest version that passed the filters.
	Version index.Version `json:"version"`
	// Reference pulls Version.
	Reference string `json:"reference"`
	// ClaimedTier is Version's tier annotation; VerifiedTier the tier the
	// index's builder verified ("" when nothing above contrib was).
	ClaimedTier  string `json:"claimedTier"`
	VerifiedTier string `json:"verifiedTier"`
}

// TierText says a hit's tier as people read it: "official (verified)", or
// "contrib (claimed official, unverified)".
func (h SearchHit) TierText() string {
	v := h.Version
	switch {
	case v.Demoted != nil:
		return v.Tier.String() + " (" + v.Demoted.String() + ")"
	case v.ClaimedTier > v.Tier:
		return v.Tier.String() + " (claimed " + v.ClaimedTier.String() + ", unverified)"
	case v.Tier > tier.Contrib:
		return v.Tier.String() + " (verified)"
	}
	return v.Tier.String()
}

// SearchResult is what matched, and what could not be read.
type SearchResult struct {
	Results []SearchHit `json:"results"`
	// Indexes and Entries count what was searched.
	Indexes int `json:"-"`
	Entries int `json:"-"`
	// Warnings are configured indexes that could not be read and were left
	// out.
	Warnings []error `json:"-"`
}

// Search reads the indexes, has this client's trust policy check the
// tier records they name (see checkProofs), and returns the entries that
// pass req.
func (c *Client) Search(ctx context.Context, req SearchRequest) (*SearchResult, error) {
	if err := req.Query.Validate(); err != nil {
		return nil, usagef("{ExactTier} needs a {Tier}")
	}
	gate, err := c.gate(req.KeyFiles)
	if err != nil {
		return nil, err
	}
	named, warnings, err := c.readIndexes(req)
	if err != nil {
		return nil, err
	}
	c.checkProofs(ctx, gate, named)
	merged := index.Merge(named...)
	res := &SearchResult{Results: []SearchHit{}, Indexes: len(named), Entries: len(merged.Entries), Warnings: warnings}
	for _, e := range merged.Search(req.Query) {
		res.Results = append(res.Results, hitOf(e))
	}
	return res, nil
}

// readIndexes reads req.Files, or else the configured indexes (only those
// req.Indexes names, if any). A configured index that cannot be read is a
// warning, unless none can be read.
func (c *Client) readIndexes(req SearchRequest) ([]index.Named, []error, error) {
	var named []index.Named
	if len(req.Files) > 0 {
		if len(req.Indexes) > 0 {
			return nil, nil, usagef("use {Files} or {Indexes}, not both")
		}
		for _, f := range req.Files {
			ix, err := index.Load(f)
			if err != nil {
				return nil, nil, err
			}
			named = append(named, index.Named{Name: f, Index: ix})
		}
		return named, nil, nil
	}
	cfg, err := c.indexConfig()
	if err != nil {
		return nil, nil, err
	}
	srcs, err := c.sources(cfg, req.Indexes)
	if err != nil {
		return nil, nil, err
	}
	var errs []error
	for _, s := range srcs {
		ix, err := cfg.Read(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		named = append(named, index.Named{Name: s.Name, Index: ix})
	}
	if len(named) == 0 {
		return nil, nil, errors.Join(errs...)
	}
	return named, errs, nil
}

// TagRow is one tag of a repository; with Long, the artifact it names and
// the tier the gate found.
type TagRow struct {
	Tag          string `json:"tag"`
	Digest       string `json:"digest,omitempty"`
	Type         string `json:"type,omitempty"`
	ClaimedTier  string `json:"claimedTier,omitempty"`
	VerifiedTier string `json:"verifiedTier,omitempty"`
	// Tier says the tier as people read it: "official (verified)".
	Tier  string `json:"tier,omitempty"`
	Error string `json:"error,omitempty"`
}

// TagsRequest asks for a repository's tags.
type TagsRequest struct {
	Repo string
	// Long resolves each tag and has the gate verify its tier.
	Long bool
	// KeyFiles are trusted public keys beyond the configured ones.
	KeyFiles []string
}

// TagsResult is a repository's tags.
type TagsResult struct {
	Tags []TagRow `json:"tags"`
	// Long says each tag was resolved.
	Long bool `json:"-"`
}

// Tags lists the tags of a repository (signature and referrer tags left
// out), and with Long what each names and its verified tier.
func (c *Client) Tags(ctx context.Context, req TagsRequest) (*TagsResult, error) {
	t, err := c.open(ctx, req.Repo, true)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	if t.Ref.Reference() != "" {
		return nil, usagef("%s: name a repository, without a tag or digest", req.Repo)
	}
	tags, err := index.Tags(ctx, t)
	if err != nil {
		return nil, err
	}
	rows := make([]TagRow, 0, len(tags))
	var gate trust.Gate
	if req.Long {
		if gate, err = c.gate(req.KeyFiles); err != nil {
			return nil, err
		}
	}
	for _, tag := range tags {
		r := TagRow{Tag: tag}
		if req.Long {
			c.describeTag(ctx, t, gate, &r)
		}
		rows = append(rows, r)
	}
	return &TagsResult{Tags: rows, Long: req.Long}, nil
}

// describeTag fills what tag r names and its verdict.
func (c *Client) describeTag(ctx context.Context, t *target.Target, gate trust.Gate, r *TagRow) {
	tt := *t
	tt.Ref = t.Ref.WithTag(r.Tag)
	info, err := artifact.Resolve(ctx, &tt, nil)
	if err != nil {
		r.Error = err.Error()
		return
	}
	v := c.verdictOf(ctx, gate, t, info.Root(), info.Annotations)
	r.Digest, r.Type = info.Digest, info.Type
	r.ClaimedTier, r.VerifiedTier, r.Tier = v.Claimed.String(), v.VerifiedName(), v.String()
}
