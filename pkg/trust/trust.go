// Package trust is the one gate that decides whether an artifact meets a
// tier. Every command that admits, refuses or reports a tier goes through
// it: push (a contribution against the tier it claims), promote (against
// the tier it moves to), pull (against --tier), and inspect, verify and
// index build (which report what the gate finds).
//
// A decision has two inputs, gathered here and nowhere else:
//   - the Gate: the tier policy and the public keys trusted to sign;
//   - the Facts about the subject: its annotations (OWNERS, source,
//     licence, version, warnings), its signatures checked against the
//     trusted keys, and its promotion records.
//
// and one rule: Gate.Decide. The tier annotation alone is a claim; Decide
// passes only when the claim reaches the wanted tier and the policy's
// requirements for that tier (and every tier below it) are met by the facts.
package trust

import (
	"context"
	"os"
	"path/filepath"
	"strconv"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/tierpack/tierpack/pkg/owners"
	"github.com/tierpack/tierpack/pkg/policy"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/tier"
	"github.com/tierpack/tierpack/sdk"
)

// Gate holds what every tier decision is made against.
type Gate struct {
	// Policy lists each tier's requirements.
	Policy policy.Policy
	// Keys are the public keys whose signatures and promotion records count.
	Keys []sign.PublicKey
}

// Sources say where a Gate's policy and keys come from. The zero value is
// the built-in policy and no trusted keys.
type Sources struct {
	// PolicyFile is the policy to load; empty means DefaultPolicyFile if it
	// exists, else the built-in defaults.
	PolicyFile string
	// DefaultPolicyFile is $TIERPACK_HOME/policy.yaml.
	DefaultPolicyFile string
	// KeyFiles are public keys given on the command line (--key).
	KeyFiles []string
	// KeyDir holds more trusted *.pub keys ($TIERPACK_HOME/trusted-keys).
	KeyDir string
}

// Load builds the Gate from its sources. Trusted keys are the union of
// KeyFiles, the policy's trustedKeys and KeyDir/*.pub.
func Load(src Sources) (Gate, error) {
	path := src.PolicyFile
	if path == "" && src.DefaultPolicyFile != "" {
		if st, err := os.Stat(src.DefaultPolicyFile); err == nil && st.Mode().IsRegular() {
			path = src.DefaultPolicyFile
		}
	}
	g := Gate{Policy: policy.Default()}
	if path != "" {
		var err error
		if g.Policy, err = policy.Load(path); err != nil {
			return g, err
		}
	}
	paths := append(append([]string{}, src.KeyFiles...), g.Policy.TrustedKeys...)
	if src.KeyDir != "" {
		matches, _ := filepath.Glob(filepath.Join(src.KeyDir, "*.pub"))
		paths = append(paths, matches...)
	}
	for _, p := range paths {
		k, err := sign.LoadPublicKeyFile(p)
		if err != nil {
			return g, &KeyError{Err: err}
		}
		g.Keys = append(g.Keys, k)
	}
	return g, nil
}

// KeyError reports a trusted key that could not be read: a usage problem
// (a wrong --key path), not a refusal.
type KeyError struct{ Err error }

func (e *KeyError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *KeyError) Unwrap() error { return e.Err }

// Facts is what is known about a subject; see policy.Facts.
type Facts = policy.Facts

// Decide is the gate: nil when an artifact claiming claimed meets want, a
// *tier.BelowError when the claim is below want, and a
// *policy.RefusalError listing every unmet requirement otherwise.
func (g Gate) Decide(subject string, claimed, want tier.Tier, f Facts) error {
	if err := tier.Require(subject, claimed, want); err != nil {
		return err
	}
	if want <= tier.Contrib {
		return nil
	}
	return g.Policy.Check(subject, want, f)
}

// Assess returns the highest tier, up to the claimed one, that Decide
// admits: what an artifact is, as opposed to what it says it is.
func (g Gate) Assess(subject string, claimed tier.Tier, f Facts) tier.Tier {
	for t := claimed; t > tier.Contrib; t-- {
		if g.Decide(subject, claimed, t, f) == nil {
			return t
		}
	}
	return min(claimed, tier.Contrib)
}

// Contribution gathers the facts about a contribution about to be pushed,
// from its manifest fields, its OWNERS file and its validation.
func Contribution(own *owners.File, sourceURL, revision, license, version string, warnings int) Facts {
	return Facts{Owners: own, SourceURL: sourceURL, Revision: revision, License: license, Version: version, Warnings: warnings}
}

// Artifact gathers the facts about a pushed artifact whose root manifest
// (or index) is root: its annotations and, when want is official or above,
// its signature and promotion record checked against the Gate's keys.
func (g Gate) Artifact(ctx context.Context, store oras.ReadOnlyGraphTarget, root ocispec.Descriptor, annotations map[string]string, want tier.Tier) Facts {
	a := annotations
	f := Facts{
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
	if want >= tier.Official {
		if v, err := sign.Verify(ctx, store, root, g.Keys); err != nil {
			f.SignatureErr = err
		} else {
			f.SignedBy = "key " + v.KeyID + " (" + v.KeySource + ")"
		}
		if r, err := promotion.Verify(ctx, store, root, tier.Official, g.Keys); err != nil {
			f.PromotionErr = err
		} else {
			f.PromotedBy = r.By + " with key " + r.VerifiedBy
		}
	}
	return f
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
	// TrustedKey is the trusted key that made it, empty when none did.
	TrustedKey string `json:"trustedKey,omitempty"`
}

// maxHistory bounds how far back a promotion history is followed.
const maxHistory = 32

// History gathers root's signatures (checked against the Gate's keys) and
// its promotion history, following each record back to the manifest it
// promoted.
func (g Gate) History(ctx context.Context, store oras.ReadOnlyGraphTarget, root ocispec.Descriptor) (Report, error) {
	rep := Report{Signatures: []SignatureReport{}, Promotions: []promotion.Signed{}}
	sigs, err := sign.Signatures(ctx, store, root)
	if err != nil {
		return rep, err
	}
	for _, s := range sigs {
		r := SignatureReport{Identity: s.Identity, Digest: s.Digest}
		if s.Digest == root.Digest.String() {
			if k, ok := s.SignedBy(g.Keys); ok {
				r.TrustedKey = k.ID
			}
		}
		rep.Signatures = append(rep.Signatures, r)
	}
	subject := root
	for hops := 0; hops < maxHistory; hops++ {
		recs, err := promotion.List(ctx, store, subject)
		if err != nil || len(recs) == 0 {
			break
		}
		last := recs[len(recs)-1]
		rep.Promotions = append(recs, rep.Promotions...)
		d, err := store.Resolve(ctx, last.Source)
		if err != nil {
			break
		}
		subject = d
	}
	return rep, nil
}
