package tierpack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/tierpack/tierpack/pkg/cache"
	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/trust"
	"github.com/tierpack/tierpack/sdk/tier"
)

// An index is a file anyone who can publish it can edit: the tier it
// gives a version is the builder's word. So it records, for each version
// above contrib, the tier record that proves the tier (index.Version's
// Record and KeyID), and a reader believes the tier only when its own trust
// policy accepts that record: the record is fetched from the entry's
// repository (once: it is kept in the content cache by digest, so later
// searches verify from disk), must be about the version's digest, give at
// least its tier, and be signed by a key this client trusts for that tier.
// Otherwise the version is at contrib here, its tier kept as the index's
// claim (ClaimedTier) with the reason (Unverified), and search --tier,
// list and the catalog treat it as the claim it is.
//
// What this does not check is freshness: a genuine record can be older
// than a demotion the index leaves out. The index is a snapshot; pull,
// inspect and tags --long ask the registry for the current records.

// proofOf is what an index records of verdict v: its effective tier, the
// record that proves a tier above contrib, and a demotion.
func proofOf(v trust.Verdict) index.Proof {
	p := index.Proof{Tier: v.Effective()}
	if v.Record == nil {
		return p
	}
	if v.Verified > tier.Contrib {
		p.Record, p.KeyID = v.Record.Referrer, v.Record.VerifiedBy
	}
	if v.Demoted {
		p.Demoted = &index.Demotion{From: v.Record.From, ReasonKind: v.Record.ReasonKind, Advisory: v.Record.Advisory}
	}
	return p
}

// proofLookups bounds the records checkProofs fetches at once.
const proofLookups = 8

// maxRecordBytes bounds a record manifest or layer read for a proof.
const maxRecordBytes = 1 << 20

// checkProofs has gate check the proof of every version above contrib in
// named, in place (see above).
func (c *Client) checkProofs(ctx context.Context, gate trust.Gate, named []index.Named) {
	cc, _ := c.cache()
	p := &prover{c: c, gate: gate, cache: cc, targets: map[string]*target.Target{}, done: map[string]error{}}
	defer p.close()
	var wg sync.WaitGroup
	sem := make(chan struct{}, proofLookups)
	for i := range named {
		for j := range named[i].Index.Entries {
			e := &named[i].Index.Entries[j]
			for k := range e.Versions {
				v := &e.Versions[k]
				if v.Tier <= tier.Contrib {
					continue
				}
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer func() { <-sem; wg.Done() }()
					if err := p.check(ctx, e.Repository, *v); err != nil {
						v.ClaimedTier = max(v.ClaimedTier, v.Tier)
						v.Tier = tier.Contrib
						v.Unverified = err.Error()
					}
				}()
			}
		}
	}
	wg.Wait()
}

// prover checks proofs, opening each repository once.
type prover struct {
	c     *Client
	gate  trust.Gate
	cache *cache.Cache

	mu      sync.Mutex
	targets map[string]*target.Target
	done    map[string]error // by record and version digest
}

func (p *prover) close() {
	for _, t := range p.targets {
		t.Close()
	}
}

// check is nil when the record v names proves v's tier to this client.
func (p *prover) check(ctx context.Context, repo string, v index.Version) error {
	if v.Record == "" {
		return errors.New("the index names no tier record that proves it")
	}
	key := v.Record + " " + v.Digest
	p.mu.Lock()
	err, ok := p.done[key]
	p.mu.Unlock()
	if ok {
		return err
	}
	err = p.verify(ctx, repo, v)
	p.mu.Lock()
	p.done[key] = err
	p.mu.Unlock()
	return err
}

func (p *prover) verify(ctx context.Context, repo string, v index.Version) error {
	if n := p.gate.For(repo).Threshold[v.Tier]; n > 1 {
		// One record cannot prove a quorum: ask the registry, as a pull
		// would.
		return p.quorum(ctx, repo, v, n)
	}
	d, err := digest.Parse(v.Record)
	if err != nil {
		return fmt.Errorf("the index names %q as its tier record, which is not a digest", v.Record)
	}
	f, desc, err := p.fetcher(ctx, repo, d)
	if err != nil {
		return fmt.Errorf("its tier record %s cannot be read: %v", promotion.ShortDigest(v.Record), err)
	}
	rec, err := promotion.Read(ctx, f, desc)
	if errors.Is(err, promotion.ErrNotRecord) {
		// A keyless approval: the index names the signature bundle.
		rec, err = p.keyless(ctx, repo, f, desc, v)
	}
	if err != nil {
		return fmt.Errorf("its tier record %s cannot be read: %v", promotion.ShortDigest(v.Record), err)
	}
	switch {
	case !rec.About(v.Digest):
		return fmt.Errorf("its tier record %s is about %s, not this version", promotion.ShortDigest(v.Record), promotion.ShortDigest(rec.Subject))
	case rec.To < v.Tier:
		return fmt.Errorf("its tier record %s gives %s, not %s", promotion.ShortDigest(v.Record), rec.To, v.Tier)
	}
	if _, err := rec.Verify(p.gate.For(repo).KeysFor(max(rec.From, rec.To))); err != nil {
		return fmt.Errorf("its tier record %s (key %s) is not signed by a key this client trusts for %s", promotion.ShortDigest(v.Record), rec.KeyID, max(rec.From, rec.To))
	}
	return nil
}

// quorum checks version v of repo, whose tier needs n approvals in this
// client's policy, with the gate itself: every record and signature of its
// lineage, read from the registry.
func (p *prover) quorum(ctx context.Context, repo string, v index.Version, n int) error {
	t, info, err := p.c.resolve(ctx, repo+"@"+v.Digest, true, nil)
	if err != nil {
		return fmt.Errorf("its tier needs %d approvals here, and it cannot be read to count them: %v", n, err)
	}
	defer t.Close()
	verdict := p.c.verdictOf(ctx, p.gate, t, info.Root(), info.Annotations)
	if verdict.Verified < v.Tier {
		return fmt.Errorf("its tier needs %d approvals here: %s", n, verdict.Reason)
	}
	return nil
}

// keyless checks the signature bundle whose referrer is desc as an
// approval of version v by an identity trusted in repo's scope.
func (p *prover) keyless(ctx context.Context, repo string, f content.Fetcher, desc ocispec.Descriptor, v index.Version) (promotion.Signed, error) {
	g := p.gate.For(repo)
	var ids []sign.Identity
	for _, t := range []tier.Tier{tier.Official, tier.Repository} {
		if t >= v.Tier {
			ids = append(ids, g.Identities[t]...)
		}
	}
	d, err := digest.Parse(v.Digest)
	if err != nil {
		return promotion.Signed{}, err
	}
	a, err := sign.KeylessApprovalOf(ctx, f, desc, d, g.Sigstore, ids)
	if err != nil {
		return promotion.Signed{}, err
	}
	return promotion.Approval(a, v.Digest, "", v.Tier), nil
}

// fetcher gets the manifest d ready to read: from the cache, else from
// repo (and keeps it).
func (p *prover) fetcher(ctx context.Context, repo string, d digest.Digest) (content.Fetcher, ocispec.Descriptor, error) {
	f := &cachedFetcher{cache: p.cache, open: func() (content.Fetcher, error) {
		t, err := p.open(ctx, repo)
		if err != nil {
			return nil, err
		}
		return t.Store, nil
	}}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: d}
	if b, err := p.cacheGet(d); err == nil {
		desc.Size = int64(len(b))
	} else {
		// Fetched by digest in one request (no HEAD first), and checked
		// against it.
		t, err := p.open(ctx, repo)
		if err != nil {
			return nil, desc, err
		}
		if desc, f.fetched, err = oras.FetchBytes(ctx, t.Store, d.String(), oras.FetchBytesOptions{MaxBytes: maxRecordBytes}); err != nil {
			return nil, desc, err
		}
		if p.cache != nil {
			_ = p.cache.PutBytes(desc, f.fetched)
		}
	}
	return f, desc, nil
}

func (p *prover) cacheGet(d digest.Digest) ([]byte, error) {
	if p.cache == nil {
		return nil, errors.New("no cache")
	}
	return p.cache.GetByDigest(d)
}

// open opens repo once.
func (p *prover) open(ctx context.Context, repo string) (*target.Target, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.targets[repo]; ok {
		return t, nil
	}
	t, err := p.c.open(ctx, repo, true)
	if err != nil {
		return nil, err
	}
	p.targets[repo] = t
	return t, nil
}

// cachedFetcher fetches small content from the cache, else from the
// store open gives (opened only then), keeping what it fetched.
type cachedFetcher struct {
	cache *cache.Cache
	open  func() (content.Fetcher, error)
	// fetched is the record manifest, when it was just fetched.
	fetched []byte
}

func (f *cachedFetcher) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if f.fetched != nil && int64(len(f.fetched)) == desc.Size && digest.FromBytes(f.fetched) == desc.Digest {
		return io.NopCloser(bytes.NewReader(f.fetched)), nil
	}
	if f.cache != nil {
		if b, err := f.cache.Get(desc); err == nil {
			return io.NopCloser(bytes.NewReader(b)), nil
		}
	}
	store, err := f.open()
	if err != nil {
		return nil, err
	}
	b, err := oci.FetchAll(ctx, store, desc, maxRecordBytes)
	if err != nil {
		return nil, err
	}
	if f.cache != nil {
		_ = f.cache.PutBytes(desc, b) // the cache only saves time
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}
