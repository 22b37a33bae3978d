package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/owners"
	"github.com/tierpack/tierpack/pkg/requires"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/falco"
	"github.com/tierpack/tierpack/sdk/tier"
)

// DefaultConcurrency is how many tags Build resolves at once.
const DefaultConcurrency = 8

// maxHelmConfig bounds the Helm config blob Build reads for keywords.
const maxHelmConfig = 1 << 20

// Builder builds indexes. The zero value is ready to use.
type Builder struct {
	// Skipped, if set, is told about each tag left out of the index because
	// it is not a contribution, with the reason. Signature and referrer tags
	// are left out silently. It is called from one goroutine at a time.
	Skipped func(ref, reason string)
	// Concurrency bounds the tags resolved at once; zero means
	// DefaultConcurrency.
	Concurrency int
	// Verify returns the tier the trust gate verifies for a resolved
	// version (pkg/trust's Verdict.Effective), with the record that proves
	// it. Nil records nothing above contrib: an index holds verified tiers
	// only, and without a gate nothing is verified.
	Verify func(ctx context.Context, t *target.Target, info *oci.Info) Proof
}

// Build indexes the repositories targets name with a zero Builder.
func Build(ctx context.Context, targets ...*target.Target) (*Index, error) {
	var b Builder
	return b.Build(ctx, targets...)
}

// Build indexes the repositories targets name: every tag of each, or only
// the tag or digest a target's reference names. Each repository becomes one
// entry; a repository with no contribution in it becomes none. Errors
// talking to a registry stop the build; tags that hold something other
// than a contribution are skipped (see Skipped).
func (b *Builder) Build(ctx context.Context, targets ...*target.Target) (*Index, error) {
	ix := New()
	seen := map[string]bool{}
	for _, t := range targets {
		if seen[t.Ref.String()] {
			continue // the same reference twice
		}
		seen[t.Ref.String()] = true
		e, err := b.entry(ctx, t)
		if err != nil {
			return nil, err
		}
		if e != nil {
			ix.Entries = append(ix.Entries, *e)
		}
	}
	ix.Entries = mergeSameRepository(ix.Entries)
	sortEntries(ix.Entries)
	return ix, nil
}

// mergeSameRepository joins entries for one repository (given twice with
// different tags) into one.
func mergeSameRepository(es []Entry) []Entry {
	var out []Entry
	at := map[string]int{}
	for _, e := range es {
		i, ok := at[e.Repository]
		if !ok {
			at[e.Repository] = len(out)
			out = append(out, e)
			continue
		}
		have := out[i]
		have.Versions = slices.Clone(have.Versions)
		for _, v := range e.Versions {
			j := slices.IndexFunc(have.Versions, func(h Version) bool { return h.Digest == v.Digest })
			if j < 0 {
				have.Versions = append(have.Versions, v)
				continue
			}
			tags := cleanList(append(slices.Clone(have.Versions[j].Tags), v.Tags...))
			slices.Sort(tags)
			have.Versions[j].Tags = tags
		}
		sortVersions(have.Versions)
		if l := latest(have.Versions); l != have.Latest {
			// The other entry's metadata describes the new latest version.
			meta := e
			meta.Versions, meta.Latest = have.Versions, l
			if v, ok := meta.LatestVersion(); ok {
				meta.Tier = v.Tier
			}
			have = meta
		}
		out[i] = have
	}
	return out
}

// resolved is one tag's artifact.
type resolved struct {
	tag  string
	info *oci.Info
	// claimed is the tier its annotation claims.
	claimed tier.Tier
}

func (b *Builder) entry(ctx context.Context, t *target.Target) (*Entry, error) {
	tags, err := b.tags(ctx, t)
	if err != nil {
		return nil, err
	}
	conc := b.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	explicit := t.Ref.Reference() != "" // a tag the user named must exist
	results := make([]resolved, len(tags))
	var mu sync.Mutex
	skip := func(ref, reason string) {
		if b.Skipped != nil {
			mu.Lock()
			defer mu.Unlock()
			b.Skipped(ref, reason)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	for i, tag := range tags {
		g.Go(func() error {
			tt := *t // the same store, another reference; never closed
			if strings.Contains(tag, ":") {
				tt.Ref.Digest, tt.Ref.Tag = tag, ""
			} else {
				tt.Ref = t.Ref.WithTag(tag)
			}
			info, err := oci.Resolve(gctx, &tt, nil)
			var claim tier.Tier
			if err == nil {
				claim, err = tier.FromAnnotations(info.Annotations)
			}
			if err != nil {
				if explicit || fatal(err) {
					return err
				}
				skip(tt.Ref.String(), err.Error())
				return nil
			}
			switch {
			case info.ArtifactType == MediaType:
				skip(tt.Ref.String(), "a published tierpack index, not a contribution")
			case info.Type == "" && falco.ConfigTypes[info.ArtifactType] != "":
				// One of Falco's own (falcoctl's format): no tier claim, a
				// tier only from the records or keyless signatures the
				// gate finds.
				info.Type = falco.ConfigTypes[info.ArtifactType]
				results[i] = resolved{tag: tag, info: info, claimed: tier.None}
			case info.Type == "":
				skip(tt.Ref.String(), fmt.Sprintf("not a tierpack contribution (no %s annotation; artifactType %q)", sdk.AnnotationType, info.ArtifactType))
			default:
				results[i] = resolved{tag: tag, info: info, claimed: claim}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var found []resolved
	for _, r := range results {
		if r.info != nil {
			found = append(found, r)
		}
	}
	if len(found) == 0 {
		return nil, nil
	}
	return b.makeEntry(ctx, t, found)
}

// tags lists the tags to index: the one the reference names, or every tag
// of the repository except signature and referrer tags.
func (b *Builder) tags(ctx context.Context, t *target.Target) ([]string, error) {
	if r := t.Ref.Reference(); r != "" {
		return []string{r}, nil
	}
	return Tags(ctx, t)
}

// Tags lists the tags of t's repository that can name a contribution,
// sorted: cosign's signature, attestation and SBOM tags and the referrers
// tag schema's sha256-<hex> tags are left out.
func Tags(ctx context.Context, t *target.Target) ([]string, error) {
	lister, ok := t.Store.(registry.TagLister)
	if !ok {
		return nil, fmt.Errorf("%s: this target cannot list its tags; name a tag (%s:TAG)", t.Ref, t.Ref)
	}
	all, err := registry.Tags(ctx, lister)
	if err != nil {
		var er *errcode.ErrorResponse
		if errors.As(err, &er) && er.StatusCode == 404 {
			return nil, fmt.Errorf("listing the tags of %s: %w (check the repository name; index build takes repositories, like HOST/REPO, without a tag)", t.Ref, err)
		}
		return nil, fmt.Errorf("listing the tags of %s: %w", t.Ref, err)
	}
	var tags []string
	for _, tag := range all {
		if indexable(tag) {
			tags = append(tags, tag)
		}
	}
	slices.Sort(tags)
	return tags, nil
}

// indexable reports whether a tag may name a contribution: it is a valid
// tag and not one of cosign's signature, attestation or SBOM tags
// (sha256-<hex>.sig) or an OCI referrers fallback tag (sha256-<hex>).
func indexable(tag string) bool {
	if !sdk.ValidTag(tag) {
		return false
	}
	for _, alg := range []string{"sha256-", "sha384-", "sha512-"} {
		if strings.HasPrefix(tag, alg) {
			return false
		}
	}
	for _, suffix := range []string{".sig", ".att", ".sbom"} {
		if strings.HasSuffix(tag, suffix) {
			return false
		}
	}
	return true
}

// fatal reports whether a Resolve error is about talking to the registry
// (stop the build) rather than about what one tag holds (skip the tag).
func fatal(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if errors.Is(err, errdef.ErrNotFound) {
		return false // deleted between listing and resolving
	}
	var er *errcode.ErrorResponse
	if errors.As(err, &er) {
		return er.StatusCode != 404
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne)
}

// verify is the tier recorded for a version and its proof: the gate's, or
// contrib at most without one. The claim is kept beside it when they
// differ.
func (b *Builder) verify(ctx context.Context, t *target.Target, r resolved) Proof {
	if b.Verify != nil {
		return b.Verify(ctx, t, r.info)
	}
	return Proof{Tier: min(r.claimed, tier.Contrib)}
}

// makeEntry groups the resolved tags by digest into versions and takes
// the entry's metadata from the latest one.
func (b *Builder) makeEntry(ctx context.Context, t *target.Target, found []resolved) (*Entry, error) {
	byDigest := map[string]*Version{}
	infos := map[string]*oci.Info{}
	for _, r := range found {
		v, ok := byDigest[r.info.Digest]
		if !ok {
			p := b.verify(ctx, t, r)
			v = &Version{
				Version:  r.info.Version,
				Digest:   r.info.Digest,
				Tier:     p.Tier,
				Created:  r.info.Annotations[ocispec.AnnotationCreated],
				Revision: r.info.Annotations[ocispec.AnnotationRevision],
				Demoted:  p.Demoted,
			}
			if p.Tier > tier.Contrib {
				v.Record, v.KeyID = p.Record, p.KeyID
			}
			if r, err := requires.FromAnnotations(r.info.Annotations); err == nil && !r.IsZero() {
				v.Requires = &r
			}
			if r.claimed != v.Tier {
				v.ClaimedTier = r.claimed
			}
			byDigest[r.info.Digest] = v
			infos[r.info.Digest] = r.info
		}
		if !strings.Contains(r.tag, ":") {
			v.Tags = append(v.Tags, r.tag)
		}
	}
	var versions []Version
	for _, v := range byDigest {
		slices.Sort(v.Tags)
		if v.Version == "" {
			v.Version = firstTag(*v)
			if v.Version == "" {
				v.Version = v.Digest
			}
		}
		versions = append(versions, *v)
	}
	sortVersions(versions)
	e := &Entry{Repository: t.Ref.WithTag("").String(), Versions: versions, Latest: latest(versions)}
	lv, _ := e.LatestVersion()
	info := infos[lv.Digest]
	a := info.Annotations
	e.Name = info.Name
	if e.Name == "" {
		e.Name = lastElement(t.Ref)
	}
	e.Type, e.Tier = info.Type, lv.Tier
	e.Description = a[ocispec.AnnotationDescription]
	e.License = a[ocispec.AnnotationLicenses]
	e.Source = a[ocispec.AnnotationSource]
	e.Homepage = a[ocispec.AnnotationURL]
	e.Keywords = splitList(a[sdk.AnnotationKeywords])
	if info.Config != nil && info.Config.MediaType == sdk.MediaTypeHelmConfig {
		if err := helmMetadata(ctx, t, *info.Config, e); err != nil {
			return nil, err
		}
	}
	own, err := owners.FromAnnotations(a)
	if err != nil && b.Skipped != nil {
		b.Skipped(e.Reference(lv), "maintainers left out: "+err.Error())
	}
	e.Maintainers = maintainers(own, a[ocispec.AnnotationAuthors])
	return e, nil
}

// helmMetadata fills what a chart's Chart.yaml says and its annotations
// did not: keywords always live there, and charts pushed by `helm push`
// have no tierpack annotations at all.
func helmMetadata(ctx context.Context, t *target.Target, cfg ocispec.Descriptor, e *Entry) error {
	if cfg.Size > maxHelmConfig {
		return nil
	}
	data, err := oci.FetchAll(ctx, t.Store, cfg, maxHelmConfig)
	if err != nil {
		if fatal(err) {
			return fmt.Errorf("%s: fetching the chart's config %s: %w", t.Ref, cfg.Digest, err)
		}
		return nil
	}
	var chart struct {
		Name        string   `json:"name"`
		Description string   `json:"description"`
		Home        string   `json:"home"`
		Sources     []string `json:"sources"`
		Keywords    []string `json:"keywords"`
	}
	if json.Unmarshal(data, &chart) != nil {
		return nil
	}
	if len(e.Keywords) == 0 {
		e.Keywords = cleanList(chart.Keywords)
	}
	if e.Description == "" {
		e.Description = chart.Description
	}
	if e.Homepage == "" {
		e.Homepage = chart.Home
	}
	if e.Source == "" && len(chart.Sources) > 0 {
		e.Source = chart.Sources[0]
	}
	return nil
}

// maintainers lists the OWNERS approvers and reviewers, then the authors
// ("Name <email>, Name" as tierpack writes them, "Name (email)" as helm push
// does), each person once, in their first role.
func maintainers(own *owners.File, authors string) []Maintainer {
	var out []Maintainer
	seen := map[string]bool{} // a reviewer who is also an approver is listed once
	add := func(m Maintainer) {
		if m.Name != "" && !seen[m.Name+"\x00"+m.Email] {
			seen[m.Name+"\x00"+m.Email] = true
			out = append(out, m)
		}
	}
	if own != nil {
		for _, n := range own.Approvers {
			add(Maintainer{Name: n, Role: RoleApprover})
		}
		for _, n := range own.Reviewers {
			add(Maintainer{Name: n, Role: RoleReviewer})
		}
	}
	for _, a := range splitList(authors) {
		m := Maintainer{Name: a, Role: RoleAuthor}
		for _, delim := range []string{"<>", "()"} {
			name, rest, ok := strings.Cut(a, delim[:1])
			if email, closed := strings.CutSuffix(rest, delim[1:]); ok && closed && strings.Contains(email, "@") {
				m.Name, m.Email = strings.TrimSpace(name), strings.TrimSpace(email)
				if m.Name == "" {
					m.Name = m.Email
				}
				break
			}
		}
		add(m)
	}
	return out
}

// splitList splits a comma-separated annotation value.
func splitList(s string) []string { return cleanList(strings.Split(s, ",")) }

// cleanList trims items and drops empty and repeated ones, keeping order.
func cleanList(in []string) []string {
	var out []string
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// lastElement names an artifact that records no name: the repository's last
// path element, or the layout folder's name.
func lastElement(r target.Ref) string {
	s := r.Repository
	if s == "" {
		s = strings.TrimRight(strings.ReplaceAll(r.Path, `\`, "/"), "/")
	}
	if i := strings.LastIndex(s, "/"); i >= 0 {
		s = s[i+1:]
	}
	return s
}
