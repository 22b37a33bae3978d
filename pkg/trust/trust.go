// Package trust is the one gate that decides what tier an artifact is at.
// Every command that admits, refuses or reports a tier goes through it:
// push (a contribution against the tier it claims), promote (against the
// tier it moves to), pull (against --tier), and inspect, verify, index
// build and search (which report and filter on what the gate finds).
//
// The tier annotation is a claim: anyone with push access can write it.
// The verified tier is the one the latest tier record about the manifest's
// digest gives (pkg/promotion), when a key the policy trusts for that tier
// signed it and the policy's requirements for the tier hold. The
// annotations are facts too once a trusted record names the digest, since
// the digest covers them; the OWNERS approvers come from the record itself.
// Because records about a digest are ordered, a demoted manifest re-tagged
// back is found demoted; and because a demotion covers the content — every
// manifest over the same layers, found through promotion.Lineage from any
// of them — so is an older grant or a sibling promotion of the same
// content re-tagged, or pulled by digest: the latest trusted record of the
// content caps the tier until a later trusted record raises it again.
//
// What each tier proves, and what it does not:
//   - contrib: nothing; it needs no signature ("use at your own risk").
//   - repository: a key trusted for repository (the project's release or CI
//     key) signed "this digest is at repository, these are its approvers".
//   - official: a key trusted for official (a core maintainer) promoted this
//     digest and signed it, with no validation warnings recorded.
//
// Records deleted from the registry: an attacker who can delete manifests
// can hide a demotion and re-tag the version back. A client keeps every
// trusted demotion it sees (promotion.Memory, $TIERPACK_HOME/records) and
// counts it even when the registry no longer lists it, so a client that
// looked the records up after the demotion — pulled or inspected the
// demoted manifest, or the one it demoted — keeps refusing the old one. A
// client that never did has only the registry to go by: mirror the records
// (tierpack copy) or pin digests where that matters.
package trust

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/tierpack/tierpack/pkg/owners"
	"github.com/tierpack/tierpack/pkg/policy"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/tier"
)

// Gate holds what every tier decision is made against.
type Gate struct {
	// Policy lists each tier's requirements.
	Policy policy.Policy
	// Keys are trusted for every tier (--key, $TIERPACK_HOME/trusted-keys,
	// the policy's trustedKeys).
	Keys []sign.PublicKey
	// TierKeys are trusted for one tier and the ones below it (the policy's
	// keys.repository and keys.official).
	TierKeys map[tier.Tier][]sign.PublicKey
	// Memory keeps the trusted demotions seen, so deleting one from the
	// registry does not undo it; nil keeps nothing.
	Memory *promotion.Memory
	// Revoked are the IDs of the policy's revoked keys: they count for
	// nothing, whichever list they are in.
	Revoked map[string]bool
	// Scope is the glob of the policy scope the gate was narrowed to (For);
	// "" where no scope applies.
	Scope string
	// Threshold is how many distinct keys must have signed records raising
	// the content to a tier (the scope's threshold; 0 and 1 mean one).
	Threshold map[tier.Tier]int
	// Identities are the keyless signers trusted for one tier and the ones
	// below it (a scope's identities; For sets them). Their IdentityKeys
	// are among TierKeys.
	Identities map[tier.Tier][]sign.Identity
	// Sigstore is the policy's trustedRoot that identities are verified
	// against; nil when it names none.
	Sigstore root.TrustedMaterial
	// PluginKeys are trusted to sign plugins (the policy's keys.plugins, or
	// the scope's plugins.keys); see PluginSigners.
	PluginKeys []sign.PublicKey

	scopes []scopeKeys
}

// scopeKeys is a policy scope with its keys loaded.
type scopeKeys struct {
	globs     []string
	match     []*regexp.Regexp // globs, compiled
	keys      map[tier.Tier][]sign.PublicKey
	ids       map[tier.Tier][]sign.Identity
	threshold map[tier.Tier]int
	require   *policy.Requirements
	plugins   []sign.PublicKey
}

// For narrows the gate to the repository repo ("registry/repository"):
// where a policy scope matches it, only that scope's keys count (the
// global ones, trusted-keys/ and --key do not reach into it), its
// identities and thresholds apply, and its requirements if it has any;
// elsewhere the gate is unchanged.
func (g Gate) For(repo string) Gate {
	for _, sk := range g.scopes {
		for i, glob := range sk.globs {
			if sk.match[i].MatchString(repo) {
				n := g
				n.Keys, n.TierKeys, n.Threshold, n.Identities, n.Scope, n.PluginKeys = nil, sk.keys, sk.threshold, sk.ids, glob, sk.plugins
				if sk.require != nil {
					n.Policy.Repository, n.Policy.Official = sk.require.Repository, sk.require.Official
				}
				return n
			}
		}
	}
	return g
}

// KeysFor returns the keys trusted to sign for tier t: the keys trusted for
// every tier, and those trusted for t or a tier above it; never a revoked
// one.
func (g Gate) KeysFor(t tier.Tier) []sign.PublicKey {
	keys := append([]sign.PublicKey{}, g.Keys...)
	for _, u := range tier.All {
		if u >= t {
			keys = append(keys, g.TierKeys[u]...)
		}
	}
	return slices.DeleteFunc(keys, func(k sign.PublicKey) bool { return g.Revoked[k.ID] })
}

// PluginSigners returns the keys trusted to sign plugins here (For narrows
// them to a scope's), never a revoked one. Keys trusted for tiers do not
// count: signing a contribution's tier is not vouching for code.
func (g Gate) PluginSigners() []sign.PublicKey {
	return slices.DeleteFunc(slices.Clone(g.PluginKeys), func(k sign.PublicKey) bool { return g.Revoked[k.ID] })
}

// trusts reports whether the key with id is trusted for t in this gate.
func (g Gate) trusts(id string, t tier.Tier) bool {
	return slices.ContainsFunc(g.KeysFor(t), func(k sign.PublicKey) bool { return k.ID == id })
}

// Sources say where a Gate's policy and keys come from. The zero value is
// the built-in policy and no trusted keys.
type Sources struct {
	// PolicyFile is the policy to load; empty means DefaultPolicyFile if it
	// exists, else the built-in defaults.
	PolicyFile string
	// DefaultPolicyFile is $TIERPACK_HOME/policy.yaml.
	DefaultPolicyFile string
	// KeyFiles are public keys given on the command line (--key), trusted
	// for every tier.
	KeyFiles []string
	// KeyDir holds more *.pub keys trusted for every tier
	// ($TIERPACK_HOME/trusted-keys).
	KeyDir string
	// RecordDir is where the demotions seen are kept ($TIERPACK_HOME/records);
	// empty keeps none.
	RecordDir string
}

// LoadPolicy reads the policy src names (PolicyFile, else
// DefaultPolicyFile if it exists), or gives the built-in one; it loads no
// keys.
func LoadPolicy(src Sources) (policy.Policy, error) {
	path := src.PolicyFile
	if path == "" && src.DefaultPolicyFile != "" {
		if st, err := os.Stat(src.DefaultPolicyFile); err == nil && st.Mode().IsRegular() {
			path = src.DefaultPolicyFile
		}
	}
	if path == "" {
		return policy.Default(), nil
	}
	return policy.Load(path)
}

// Load builds the Gate from its sources.
func Load(src Sources) (Gate, error) {
	g := Gate{TierKeys: map[tier.Tier][]sign.PublicKey{}}
	if src.RecordDir != "" {
		g.Memory = &promotion.Memory{Dir: src.RecordDir}
	}
	var err error
	if g.Policy, err = LoadPolicy(src); err != nil {
		return g, err
	}
	all := append(append([]string{}, src.KeyFiles...), g.Policy.TrustedKeys...)
	if src.KeyDir != "" {
		matches, _ := filepath.Glob(filepath.Join(src.KeyDir, "*.pub"))
		all = append(all, matches...)
	}
	if g.Keys, err = loadKeys(refsOf(all), ""); err != nil {
		return g, err
	}
	dir := g.Policy.Dir
	if g.TierKeys[tier.Repository], err = loadKeys(g.Policy.Keys.Repository, dir); err != nil {
		return g, err
	}
	if g.TierKeys[tier.Official], err = loadKeys(g.Policy.Keys.Official, dir); err != nil {
		return g, err
	}
	if g.PluginKeys, err = loadKeys(g.Policy.Keys.Plugins, dir); err != nil {
		return g, err
	}
	if r := g.Policy.TrustedRoot; r != "" {
		if !filepath.IsAbs(r) {
			r = filepath.Join(dir, r)
		}
		if g.Sigstore, err = sign.LoadTrustedRoot(r); err != nil {
			return g, &KeyError{Err: err}
		}
	}
	for _, s := range g.Policy.Scopes {
		sk := scopeKeys{globs: s.Repositories, keys: map[tier.Tier][]sign.PublicKey{}, ids: map[tier.Tier][]sign.Identity{}, threshold: map[tier.Tier]int{}, require: s.Requirements}
		for _, glob := range s.Repositories {
			sk.match = append(sk.match, policy.GlobRegexp(glob))
		}
		for t, st := range map[tier.Tier]policy.ScopeTier{tier.Repository: s.Repository, tier.Official: s.Official} {
			if sk.keys[t], err = loadKeys(st.Keys, dir); err != nil {
				return g, err
			}
			for _, id := range st.Identities {
				sk.ids[t] = append(sk.ids[t], id)
				sk.keys[t] = append(sk.keys[t], sign.IdentityKey(id))
			}
			sk.threshold[t] = st.Threshold
		}
		if sk.plugins, err = loadKeys(s.Plugins.Keys, dir); err != nil {
			return g, err
		}
		g.scopes = append(g.scopes, sk)
	}
	revoked, err := loadKeys(refsOf(g.Policy.Revoked), dir)
	if err != nil {
		return g, err
	}
	g.Revoked = map[string]bool{}
	for _, k := range revoked {
		g.Revoked[k.ID] = true
	}
	return g, nil
}

func refsOf(paths []string) []policy.KeyRef {
	refs := make([]policy.KeyRef, len(paths))
	for i, p := range paths {
		refs[i] = policy.KeyRef{Key: p}
	}
	return refs
}

// loadKeys loads keys, relative paths from dir ("" for the working folder).
func loadKeys(refs []policy.KeyRef, dir string) ([]sign.PublicKey, error) {
	var keys []sign.PublicKey
	for _, r := range refs {
		p := r.Key
		if dir != "" && !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		k, err := sign.LoadPublicKeyFile(p)
		if err != nil {
			return nil, &KeyError{Err: err}
		}
		k.NotAfter = r.NotAfter
		keys = append(keys, k)
	}
	return keys, nil
}

// KeyError reports a trusted key that could not be read: a usage problem
// (a wrong --key path), not a refusal.
type KeyError struct{ Err error }

func (e *KeyError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *KeyError) Unwrap() error { return e.Err }

// Decide checks facts about a contribution or an artifact against what a
// tier requires: nil when an artifact claiming claimed meets want, a
// *tier.BelowError-wrapping error when the claim is below want, and a
// *policy.RefusalError listing every unmet requirement otherwise. Push and
// promote decide with it; pulls and reports go through Verify, which
// decides with it too.
func (g Gate) Decide(subject string, claimed, want tier.Tier, f policy.Facts) error {
	if err := tier.Require(subject, claimed, want); err != nil {
		return err
	}
	return g.Meets(subject, want, f)
}

// Meets checks facts against what tier t requires: nil, or a
// *policy.RefusalError listing every unmet requirement. A push decides
// with it: a contribution must meet the tier it declares (there is no
// claim to compare it with yet).
func (g Gate) Meets(subject string, t tier.Tier, f policy.Facts) error {
	if t <= tier.Contrib {
		return nil
	}
	return g.Policy.Check(subject, t, f)
}

// Contribution gathers the facts about a contribution about to be pushed,
// from its manifest fields, its OWNERS file and its validation. signer
// names the key that will sign its tier record, empty when there is none.
func Contribution(own *owners.File, sourceURL, revision, license, version string, warnings int, signer string) policy.Facts {
	return policy.Facts{Owners: own, SourceURL: sourceURL, Revision: revision, License: license, Version: version, Warnings: warnings, TierSignedBy: signer}
}

// annotationFacts reads the facts an artifact's annotations hold. They are
// only claims until a trusted record names the digest they belong to.
func annotationFacts(a map[string]string) policy.Facts {
	f := policy.Facts{
		SourceURL: a[ocispec.AnnotationSource],
		Revision:  a[ocispec.AnnotationRevision],
		License:   a[ocispec.AnnotationLicenses],
		Version:   a[ocispec.AnnotationVersion],
		Warnings:  -1,
	}
	f.Owners, f.OwnersErr = owners.FromAnnotations(a)
	if n, err := strconv.Atoi(a[sdk.AnnotationWarnings]); err == nil {
		f.Warnings = n
	}
	return f
}

// Artifact gathers the facts the policy needs to let the artifact whose
// root is root move to tier to: its annotations (contrib and repository)
// and, for official, its signature and promotion record.
func (g Gate) Artifact(ctx context.Context, store oras.ReadOnlyGraphTarget, root ocispec.Descriptor, annotations map[string]string, to tier.Tier) policy.Facts {
	f := annotationFacts(annotations)
	if to >= tier.Official {
		g.signature(ctx, store, root, &f)
	}
	return f
}

// signature checks root's cosign signature against the keys trusted for
// official.
func (g Gate) signature(ctx context.Context, store oras.ReadOnlyGraphTarget, root ocispec.Descriptor, f *policy.Facts) {
	if v, err := sign.Verify(ctx, store, root, g.KeysFor(tier.Official)); err != nil {
		f.SignatureErr = err
	} else {
		f.SignedBy = "key " + v.KeyID + " (" + v.KeySource + ")"
	}
}

// Verdict is what the gate found about one artifact: the tier it claims and
// the tier that is proven.
type Verdict struct {
	// Claimed is the tier annotation.
	Claimed tier.Tier `json:"claimedTier"`
	// Verified is the highest tier proven by a trusted record; None when
	// nothing above contrib is (contrib needs no proof).
	Verified tier.Tier `json:"-"`
	// Reason says why Claimed is not verified; empty when it is.
	Reason string `json:"reason,omitempty"`
	// Record is the latest trusted record about the digest, if any.
	Record *promotion.Signed `json:"record,omitempty"`
	// Demoted is set when that record demoted this digest or its content
	// (any manifest over the same layers), so re-tagging it, or an older
	// manifest of it, back restores nothing.
	Demoted bool `json:"demoted,omitempty"`
	// SupersededBy is a later promotion of another manifest of the same
	// content to a higher tier than this one's: the version was promoted,
	// and this is the manifest it replaced.
	SupersededBy *promotion.Signed `json:"supersededBy,omitempty"`
	// Undecided is set when the facts that decide the tier could not be
	// read from where they must be (Undecided): nothing above contrib is
	// verified, and Reason says why.
	Undecided bool `json:"undecided,omitempty"`
	// Quorums are the tiers a scope's threshold held back: how many
	// distinct signers each needs and which have signed.
	Quorums []Quorum `json:"quorums,omitempty"`
}

// Quorum is a tier that needs Need distinct signers and has Have.
type Quorum struct {
	Tier tier.Tier `json:"tier"`
	Need int       `json:"need"`
	Have []string  `json:"have"`
}

// String says it as people read it: "official: 1 of 2 approvals (key
// 3f2a…)".
func (q Quorum) String() string {
	s := fmt.Sprintf("%s: %d of %d approvals", q.Tier, len(q.Have), q.Need)
	if len(q.Have) > 0 {
		names := make([]string, len(q.Have))
		for i, h := range q.Have {
			names[i] = sign.Signer(h)
		}
		s += " (" + strings.Join(names, ", ") + ")"
	}
	return s
}

// approvals are the distinct trusted keys that signed records covering
// digest d of content identity content at t or above, after the latest
// trusted demotion below t: a scope's threshold counts keys, not
// signatures.
func (g Gate) approvals(recs []promotion.Signed, d, content string, t tier.Tier) []string {
	var since *promotion.Signed
	for i := range recs {
		r := &recs[i]
		if r.Covers(d, content) && r.Demotion() && r.To < t && (since == nil || r.After(since.Record)) {
			if _, err := r.Verify(g.KeysFor(r.From)); err == nil {
				since = r
			}
		}
	}
	seen := map[string]bool{}
	var ids []string
	for _, r := range recs {
		if !r.Covers(d, content) || r.To < t || (since != nil && !r.After(since.Record)) {
			continue
		}
		if k, err := r.Verify(g.KeysFor(t)); err == nil && !seen[k.ID] {
			seen[k.ID] = true
			ids = append(ids, k.ID)
		}
	}
	return ids
}

// scopeNote says which keys signed records the scope does not trust, for
// a reason: "scope registry.example/falcosecurity/**: key 3f2a… not
// trusted here"; "" outside a scope.
func (g Gate) scopeNote(recs []promotion.Signed, d, content string) string {
	if g.Scope == "" {
		return ""
	}
	var ids []string
	for _, r := range recs {
		if r.Covers(d, content) && r.KeyID != "" && !g.trusts(r.KeyID, tier.Contrib) && !slices.Contains(ids, r.KeyID) {
			ids = append(ids, r.KeyID)
		}
	}
	if len(ids) == 0 {
		return "; scope " + g.Scope + ": only its keys and identities count"
	}
	for i, id := range ids {
		ids[i] = sign.Signer(id)
	}
	return "; scope " + g.Scope + ": " + strings.Join(ids, ", ") + " not trusted here"
}

// ErrUndecided is wrapped by errors that leave a tier undecided: the facts
// that decide it could not be read from where they must be.
var ErrUndecided = errors.New("tier undecided")

// Undecided is the verdict on an artifact whose trust facts could not be
// read (why): its claim stands unverified, so nothing above contrib is
// admitted.
func Undecided(annotations map[string]string, why error) Verdict {
	v := Verdict{Undecided: true, Reason: why.Error()}
	v.Claimed, _ = tier.FromAnnotations(annotations)
	return v
}

// VerifiedName is Verified's name, "" for None (the JSON field
// verifiedTier).
func (v Verdict) VerifiedName() string {
	if v.Verified == tier.None {
		return ""
	}
	return v.Verified.String()
}

// Admits reports whether the artifact may be used where tier want is
// asked for: contrib asks only for a tierpack artifact (it proves nothing),
// higher tiers for a verified one.
func (v Verdict) Admits(want tier.Tier) bool {
	switch {
	case want <= tier.None:
		return true
	case want == tier.Contrib:
		return v.Claimed >= tier.Contrib
	}
	return v.Verified >= want
}

// Effective is the tier the artifact may be used at: Verified when a tier
// above contrib is proven, else contrib for any tierpack artifact (contrib
// proves nothing), else None. Indexes record it and --tier filters on it.
func (v Verdict) Effective() tier.Tier {
	if v.Verified > tier.Contrib {
		return v.Verified
	}
	return min(v.Claimed, tier.Contrib)
}

// String says the tier as people read it: "official (verified)", or
// "official (claimed, unverified: REASON)", or for a demoted manifest
// "contrib (demoted from official: security, CVE-2026-1234)"; "contrib"
// and "untiered" need no proof and get none.
func (v Verdict) String() string {
	switch {
	case v.Claimed == tier.None && v.Verified == tier.None:
		return tier.None.String()
	case v.Undecided && v.Claimed > tier.Contrib:
		return v.Claimed.String() + " (claimed, undecided: " + v.Reason + ")"
	case v.Demoted && v.Record != nil:
		s := max(v.Verified, tier.Contrib).String() + " (demoted from " + v.Record.From.String()
		if l := v.Record.Label(); l != "" {
			s += ": " + l
		}
		return s + ")"
	case v.Claimed == tier.Contrib && v.Verified <= tier.Contrib:
		return "contrib" // it proves nothing, and claims nothing to prove
	case v.Verified >= v.Claimed:
		return v.Claimed.String() + " (verified)"
	}
	s := v.Claimed.String() + " (claimed, unverified: " + v.Reason + ")"
	if v.Verified > tier.Contrib {
		s += "; verified: " + v.Verified.String()
	}
	return s
}

// Verify finds the tier of the artifact whose root manifest (or index) is
// root: the latest record about its digest signed by a key trusted for the
// tier it gives, capped by the latest trusted demotion of its content (a
// demotion of any manifest of its lineage: promotion.ContentOf), and
// checked against the policy's requirements for that tier.
func (g Gate) Verify(ctx context.Context, store oras.ReadOnlyGraphTarget, root ocispec.Descriptor, annotations map[string]string) Verdict {
	v := Verdict{}
	v.Claimed, _ = tier.FromAnnotations(annotations)
	d := root.Digest.String()
	// An artifact tierpack did not push (one of falcoctl's) claims no tier:
	// a trusted record attached to it is its only tier, and vouches for
	// the facts the policy needs (promote --owner, --source-url …).
	foreign := annotations[sdk.AnnotationType] == ""
	if v.Claimed <= tier.Contrib && !foreign {
		// Contrib proves nothing and needs no lookup, unless a promotion
		// or demotion wrote this manifest: then its demotion, if that is
		// what it is, is worth keeping and worth saying.
		if annotations[sdk.AnnotationRetieredFrom] != "" {
			if recs, err := promotion.List(ctx, store, root); err == nil {
				if g.Memory != nil {
					g.Memory.Remember(recs, g.KeysFor(tier.Contrib))
				}
				if own, err := promotion.Latest(recs, d, "", g.recordKeys); err == nil && own.Subject == d && own.Demotion() {
					v.Demoted, v.Record, v.Reason = true, own, demotionReason(own, d)
				}
			}
		}
		return v
	}
	content, err := promotion.ContentOf(ctx, store, root)
	if err != nil {
		v.Reason = err.Error()
		return v
	}
	recs, _, err := promotion.Lineage(ctx, store, root, content)
	if err != nil {
		v.Reason = err.Error()
		return v
	}
	if g.Memory != nil {
		g.Memory.Remember(recs, g.KeysFor(tier.Contrib))
		recs = g.Memory.Recall(d, content, recs)
	}
	approvals, err := g.keyless(ctx, store, root, content)
	if err != nil {
		v.Reason = err.Error()
		return v
	}
	recs = append(recs, approvals...)
	latest, err := promotion.Latest(recs, d, content, g.recordKeys)
	if err != nil {
		v.Reason = err.Error()
		if errors.Is(err, promotion.ErrNoRecord) && len(recs) == 0 {
			v.Reason = "no tier record signed by a trusted key"
			if len(g.KeysFor(tier.Contrib)) == 0 {
				v.Reason += " (no keys are trusted)"
			}
		}
		v.Reason += g.scopeNote(recs, d, content)
		return v
	}
	if foreign {
		v.Claimed = max(v.Claimed, latest.To)
	}
	// The latest record of the content is about another manifest of it. A
	// demotion caps this one at the lower tier; a promotion of another
	// leaves it at what its own records say.
	var demotion *promotion.Signed
	if latest.Subject != d {
		if latest.Demotion() {
			demotion = latest
		} else if latest.Source != "" && latest.To > v.Claimed {
			v.SupersededBy = latest
		}
		own := recs[:0:0]
		for _, r := range recs {
			if r.Subject == d {
				own = append(own, r)
			}
		}
		if latest, err = promotion.Latest(own, d, "", g.recordKeys); err != nil {
			if demotion != nil {
				v.Demoted, v.Record, v.Reason = true, demotion, demotionReason(demotion, d)
				return v
			}
			v.Reason = err.Error() + g.scopeNote(recs, d, content)
			return v
		}
	}
	v.Record = latest
	t := min(latest.To, v.Claimed)
	if demotion != nil && demotion.To < t {
		t = demotion.To
		v.Demoted, v.Record = true, demotion
	} else if latest.Subject == d && latest.Demotion() {
		v.Demoted = true
	}
	if t <= tier.Contrib {
		if v.Demoted {
			v.Reason = demotionReason(v.Record, d)
		} else {
			v.Reason = fmt.Sprintf("the latest trusted record (%s, by %s) puts it at %s", promotion.ShortDigest(latest.Referrer), latest.By, latest.To)
		}
		return v
	}
	for t > tier.Contrib && g.Threshold[t] > 1 {
		ids := g.approvals(recs, d, content, t)
		if len(ids) >= g.Threshold[t] {
			break
		}
		v.Quorums = append(v.Quorums, Quorum{Tier: t, Need: g.Threshold[t], Have: ids})
		t--
	}
	if t <= tier.Contrib && len(v.Quorums) > 0 {
		v.Reason = v.quorumReason()
		return v
	}
	f := annotationFacts(annotations)
	switch {
	case latest.Keyless:
		// The identity signed the manifest, annotations and all: they are
		// its facts, as a record's approvers are a key's.
		f.Foreign = foreign
	case foreign:
		f.Owners, f.OwnersErr = &owners.File{Approvers: latest.Approvers}, nil
		f.SourceURL, f.Revision, f.License, f.Version, f.Foreign = latest.SourceURL, latest.Revision, latest.License, latest.Version, true
	default:
		f.Owners, f.OwnersErr = &owners.File{Approvers: latest.Approvers}, nil
	}
	f.TierSignedBy = sign.Signer(latest.VerifiedBy)
	if latest.To >= tier.Official && t >= tier.Official {
		g.signature(ctx, store, root, &f)
		if f.SignedBy == "" {
			// A keyless approval for official is a cosign signature too.
			for _, a := range approvals {
				if _, err := a.Verify(g.KeysFor(tier.Official)); err == nil && a.To >= tier.Official {
					f.SignedBy, f.SignatureErr = sign.Signer(a.KeyID), nil
					break
				}
			}
		}
		f.PromotedBy = latest.By + " with " + sign.Signer(latest.VerifiedBy)
	}
	if err := g.Policy.Check(d, t, f); err != nil {
		var re *policy.RefusalError
		if errors.As(err, &re) {
			var probs []string
			for _, u := range re.Unmet {
				probs = append(probs, u.Rule+": "+u.Problem)
			}
			v.Reason = strings.Join(probs, "; ")
		} else {
			v.Reason = err.Error()
		}
		return v
	}
	v.Verified = t
	switch {
	case v.Verified < v.Claimed && len(v.Quorums) > 0:
		v.Reason = v.quorumReason()
	case v.Verified < v.Claimed && v.Demoted:
		v.Reason = demotionReason(v.Record, d)
	case v.Verified < v.Claimed:
		v.Reason = fmt.Sprintf("the latest trusted record (%s, by %s) puts it at %s", promotion.ShortDigest(latest.Referrer), latest.By, latest.To)
	}
	return v
}

// keyless returns the keyless approvals of root as records
// (promotion.Approval): each signature bundle attached to it that one of
// the identities trusted here signed, at the highest tier that identity is
// trusted for.
func (g Gate) keyless(ctx context.Context, store oras.ReadOnlyGraphTarget, root ocispec.Descriptor, content string) ([]promotion.Signed, error) {
	ids, top, err := g.identities()
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	found, err := sign.KeylessApprovals(ctx, store, root, g.Sigstore, ids)
	if err != nil {
		return nil, err
	}
	out := make([]promotion.Signed, 0, len(found))
	for _, a := range found {
		out = append(out, promotion.Approval(a, root.Digest.String(), content, top[a.Identity]))
	}
	return out, nil
}

// identities are the keyless signers trusted here, none revoked, each with
// the highest tier it is trusted for (top).
func (g Gate) identities() (ids []sign.Identity, top map[sign.Identity]tier.Tier, err error) {
	top = map[sign.Identity]tier.Tier{}
	for _, t := range []tier.Tier{tier.Official, tier.Repository} {
		for _, id := range g.Identities[t] {
			if _, ok := top[id]; !ok && !g.Revoked[sign.IdentityKey(id).ID] {
				top[id] = t
				ids = append(ids, id)
			}
		}
	}
	if len(ids) > 0 && g.Sigstore == nil {
		return nil, nil, errors.New("the policy names keyless identities but no trustedRoot to verify them against")
	}
	return ids, top, nil
}

// quorumReason says which tiers lack approvals, and in which scope.
func (v Verdict) quorumReason() string {
	var qs []string
	for _, q := range v.Quorums {
		qs = append(qs, q.String())
	}
	return strings.Join(qs, "; ")
}

// demotionReason says who demoted the content of digest d, when, why, with
// which record and key, and how the demotion reaches d: d is the manifest
// it wrote, the one it replaced, or another manifest of the same content
// (an older grant or a sibling promotion re-tagged, or pulled by digest);
// and whether the registry still lists the record.
func demotionReason(r *promotion.Signed, d string) string {
	s := fmt.Sprintf("demoted from %s to %s by %s on %s%s (record %s, key %s)",
		r.From, r.To, r.By, r.Time.Format("2006-01-02 15:04:05Z"), reasonSuffix(r.Why()), promotion.ShortDigest(r.Referrer), r.VerifiedBy)
	switch {
	case r.Subject == d:
	case r.Source == d:
		s += "; this is the manifest it replaced"
	default:
		s += "; the demotion covers every manifest of this content, and this one (" + promotion.ShortDigest(d) + ") is another manifest of it"
	}
	if r.Remembered {
		s += "; the registry no longer lists that record (this client kept it when it saw it): someone deleted it"
	}
	return s
}

// recordKeys are the keys trusted to sign a record moving to or from t.
func (g Gate) recordKeys(t tier.Tier) []sign.PublicKey { return g.KeysFor(t) }

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return ": " + r
}

// RefusedError is a pull (or any use) refused because the artifact is not
// verified at the tier asked for.
type RefusedError struct {
	Subject string
	Want    tier.Tier
	Verdict Verdict
	// Instead is the newest other version admitted at Want, if the caller
	// looked for one ("" otherwise).
	Instead string
}

func (e *RefusedError) Error() string {
	v := e.Verdict
	if v.Demoted {
		s := fmt.Sprintf("%s: %s is not admitted at %s: it was %s", tier.ErrBelow, e.Subject, e.Want, v.Reason)
		if e.Instead != "" {
			s += fmt.Sprintf("\n  the newest version still at %s is %s", e.Want, e.Instead)
		}
		return s
	}
	if v.Undecided {
		return fmt.Sprintf("%s: %s claims %s, but its tier is undecided: %s", tier.ErrBelow, e.Subject, v.Claimed, v.Reason)
	}
	var msg string
	if v.Claimed < e.Want {
		msg = tier.Require(e.Subject, v.Claimed, e.Want).Error()
	} else {
		msg = fmt.Sprintf("%s: %s is %s, but %s or higher is required, verified by a trusted key", tier.ErrBelow, e.Subject, v, e.Want)
	}
	if s := v.SupersededBy; s != nil && s.To >= e.Want {
		msg += fmt.Sprintf("; it was superseded by a later promotion to %s (manifest %s, by %s on %s)", s.To, s.Subject, s.By, s.Time.Format("2006-01-02 15:04:05Z"))
	}
	return msg
}

// Unwrap returns tier.ErrBelow.
func (e *RefusedError) Unwrap() error { return tier.ErrBelow }

// Admit returns nil when verdict v admits the artifact subject at want, and
// a *RefusedError otherwise.
func Admit(subject string, v Verdict, want tier.Tier) error {
	if v.Admits(want) {
		return nil
	}
	return &RefusedError{Subject: subject, Want: want, Verdict: v}
}

// Report is what an artifact's signatures and promotions say, for inspect.
type Report struct {
	Signatures []SignatureReport  `json:"signatures"`
	Promotions []promotion.Signed `json:"promotions"`
}

// SignatureReport is one signature and whether a trusted key made it.
type SignatureReport struct {
	Identity string `json:"identity"`
	Digest   string `json:"digest"`
	// Format is "bundle" (a Sigstore bundle referrer, cosign v3) or
	// "legacy" (cosign v2's sha256-<hex>.sig tag).
	Format string `json:"format"`
	// TrustedKey is the trusted key that made it, empty when none did.
	TrustedKey string `json:"trustedKey,omitempty"`
	// TrustedIdentity is the keyless identity trusted here that made it
	// ("SUBJECT (ISSUER)"), verified against the policy's trusted root
	// with the log's inclusion proof; empty when none did.
	TrustedIdentity string `json:"trustedIdentity,omitempty"`
	// ForAnotherDigest is set on a signature that names another manifest
	// than the one it is attached to (Digest): replayed here, it proves
	// nothing, however genuine; TrustedKey then says who made it.
	ForAnotherDigest bool `json:"forAnotherDigest,omitempty"`
}

// maxHistory bounds how far back a promotion history is followed.
const maxHistory = 32

// History gathers root's signatures (checked against the keys trusted for
// official) and the tier records of its lineage, oldest first: those about
// root, then those about each manifest they replaced; records this client
// kept that the registry no longer lists are among them, marked.
func (g Gate) History(ctx context.Context, store oras.ReadOnlyGraphTarget, root ocispec.Descriptor) (Report, error) {
	rep := Report{Signatures: []SignatureReport{}, Promotions: []promotion.Signed{}}
	sigs, err := sign.Signatures(ctx, store, root)
	if err != nil {
		return rep, err
	}
	ids, _, err := g.identities()
	if err != nil {
		return rep, err
	}
	for _, s := range sigs {
		r := SignatureReport{Identity: s.Identity, Digest: s.Digest, Format: s.Format, ForAnotherDigest: s.Digest != root.Digest.String()}
		if k, ok := s.SignedBy(g.KeysFor(tier.Official)); ok {
			r.TrustedKey = k.ID
		}
		if id, ok := s.SignedByIdentity(g.Sigstore, ids, root.Digest); ok {
			r.TrustedIdentity = id.String()
		}
		rep.Signatures = append(rep.Signatures, r)
	}
	seen := map[string]bool{}
	subject := root
	for hops := 0; hops < maxHistory; hops++ {
		recs, err := promotion.List(ctx, store, subject)
		if err != nil {
			break
		}
		if g.Memory != nil {
			recs = g.Memory.Recall(subject.Digest.String(), "", recs)
		}
		var next string
		for _, r := range recs {
			if seen[r.Signature] {
				continue
			}
			seen[r.Signature] = true
			rep.Promotions = append(rep.Promotions, r)
			if r.Subject == subject.Digest.String() && r.Source != "" {
				next = r.Source
			}
		}
		if next == "" {
			break
		}
		d, err := store.Resolve(ctx, next)
		if err != nil {
			break
		}
		subject = d
	}
	sort.SliceStable(rep.Promotions, func(i, j int) bool { return rep.Promotions[j].After(rep.Promotions[i].Record) })
	return rep, nil
}
