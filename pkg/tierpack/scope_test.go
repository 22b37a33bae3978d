package tierpack_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk/tier"
)

// keys makes named key pairs with one client and returns their private
// keys and public key files.
func keys(t *testing.T, cl *tierpack.Client, names ...string) (map[string]tierpack.Key, map[string]string) {
	t.Helper()
	priv, pub := map[string]tierpack.Key{}, map[string]string{}
	for _, n := range names {
		priv[n], pub[n] = keyPair(t, cl, n)
	}
	return priv, pub
}

// pullAt pulls ref at want with cl and returns the error.
func pullAt(t *testing.T, cl *tierpack.Client, ref string, want tier.Tier) (*tierpack.PullResult, error) {
	t.Helper()
	return cl.Pull(context.Background(), tierpack.PullRequest{Ref: ref, OutputDir: filepath.Join(t.TempDir(), "out"), MinTier: want})
}

// In a shared registry, organisation B's official key must not make
// organisation A's artifact official: inside a scope only its keys count,
// and a key trusted everywhere else (the policy's global keys, --key,
// trusted-keys/) does not reach into it.
func TestScopedKeysStayInTheirScope(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.New(t)
	cl := newClient(t)
	priv, pub := keys(t, cl, "a-ci", "a-core", "b-core")
	writePolicy(t, cl, fmt.Sprintf(`keys: {official: [%s]}
scopes:
  - repositories: ["%s/orga/**"]
    repository: {keys: [%s]}
    official: {keys: [%s]}
`, pub["b-core"], reg.Host, pub["a-ci"], pub["a-core"]))
	ref := reg.Host + "/orga/rules/falco-debug-bundle:1.2.0"
	if _, err := cl.Publish(ctx, tierpack.PublishRequest{Dir: debugBundle, Ref: ref, Key: priv["a-ci"], By: "a-ci"}); err != nil {
		t.Fatal(err)
	}
	// The attack: B's core maintainer, with push access, promotes it
	// (anyone can write a record; what counts is who the reader trusts).
	if _, err := cl.Promote(ctx, tierpack.PromoteRequest{Ref: ref, To: tier.Official, Key: priv["b-core"], By: "b-core"}); err != nil {
		t.Fatal(err)
	}
	cl2 := newClient(t)
	cl2.PolicyFile = cl.PolicyFile
	bare := newClient(t) // no policy
	_, err := pullAt(t, cl2, ref, tier.Official)
	bID := keyID(t, pub["b-core"])
	if !errors.Is(err, tier.ErrBelow) || !strings.Contains(err.Error(), "scope "+reg.Host+"/orga/**: key "+bID+" not trusted here") {
		t.Fatalf("pull --tier official of A's artifact promoted by B: %v", err)
	}
	// Not with --key either.
	if _, err := cl2.Pull(ctx, tierpack.PullRequest{Ref: ref, OutputDir: filepath.Join(t.TempDir(), "k"), MinTier: tier.Official, KeyFiles: []string{pub["b-core"]}}); !errors.Is(err, tier.ErrBelow) {
		t.Fatalf("--key reached into the scope: %v", err)
	}
	// A's own maintainer approves it (the tag names the manifest B's
	// promotion wrote: a-core's record for it is what counts).
	if _, err := cl.Promote(ctx, tierpack.PromoteRequest{Ref: ref, To: tier.Official, Key: priv["a-core"], By: "a-core"}); err != nil {
		t.Fatal(err)
	}
	if res, err := pullAt(t, cl2, ref, tier.Official); err != nil || res.VerifiedTier != "official" {
		t.Fatalf("A's own promotion: %v", err)
	}
	// Outside the scope, B's key counts as the global policy says.
	refB := reg.Host + "/orgb/falco-debug-bundle:1.2.0"
	if _, err := bare.Publish(ctx, tierpack.PublishRequest{Dir: debugBundle, Ref: refB, Key: priv["b-core"], By: "b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := bare.Promote(ctx, tierpack.PromoteRequest{Ref: refB, To: tier.Official, Key: priv["b-core"], By: "b"}); err != nil {
		t.Fatal(err)
	}
	if res, err := pullAt(t, cl2, refB, tier.Official); err != nil || res.VerifiedTier != "official" {
		t.Fatalf("B's artifact, outside A's scope: %v", err)
	}
}

// With threshold 2, one maintainer does not make official, the same key
// twice is still one approval, and two distinct ones do.
func TestQuorumCountsDistinctKeys(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.New(t)
	cl := newClient(t)
	priv, pub := keys(t, cl, "ci", "m1", "m2", "m3")
	writePolicy(t, cl, fmt.Sprintf(`scopes:
  - repositories: ["%s/falcosecurity/**"]
    repository: {keys: [%s]}
    official: {keys: [%s, %s, %s], threshold: 2}
`, reg.Host, pub["ci"], pub["m1"], pub["m2"], pub["m3"]))
	ref := reg.Host + "/falcosecurity/falco-debug-bundle:1.2.0"
	if _, err := cl.Publish(ctx, tierpack.PublishRequest{Dir: debugBundle, Ref: ref, Key: priv["ci"], By: "ci"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Promote(ctx, tierpack.PromoteRequest{Ref: ref, To: tier.Official, Key: priv["m1"], By: "m1"}); err != nil {
		t.Fatal(err)
	}
	m1 := keyID(t, pub["m1"])
	res, err := pullAt(t, cl, ref, tier.Repository)
	if err != nil || res.VerifiedTier != "repository" || !strings.Contains(res.Verdict.String(), "official: 1 of 2 approvals (key "+m1+")") {
		t.Fatalf("one of two maintainers: %v %v", res, err)
	}
	if _, err := pullAt(t, cl, ref, tier.Official); !errors.Is(err, tier.ErrBelow) {
		t.Fatalf("one of two maintainers made it official: %v", err)
	}

	// The same key again: a co-signature by m1 adds nothing, and a second
	// record by m1 written by hand is still one approval.
	again, err := cl.Promote(ctx, tierpack.PromoteRequest{Ref: ref, To: tier.Official, Key: priv["m1"], By: "m1"})
	if err != nil || !again.CoSigned || again.Record != "" {
		t.Fatalf("m1 approving twice: %+v, %v", again, err)
	}
	signer, err := sign.LoadPrivateKeyFile(priv["m1"].File, []byte("pw-m1"))
	if err != nil {
		t.Fatal(err)
	}
	r := repo(t, ref)
	root, err := r.Resolve(ctx, "1.2.0")
	if err != nil {
		t.Fatal(err)
	}
	rec := promotion.Record{Subject: root.Digest.String(), Repository: reg.Host + "/falcosecurity/falco-debug-bundle", From: tier.Official, To: tier.Official,
		Approvers: res.Verdict.Record.Approvers, Sequence: 9, By: "m1 again", Time: time.Now().UTC().Truncate(time.Second)}
	if _, err := promotion.Attach(ctx, r, rec, signer, root); err != nil {
		t.Fatal(err)
	}
	if _, err := pullAt(t, cl, ref, tier.Official); !errors.Is(err, tier.ErrBelow) || !strings.Contains(err.Error(), "1 of 2 approvals") {
		t.Fatalf("the same key twice counted as two: %v", err)
	}

	// An index built by a client without the quorum (trusting m1 alone for
	// official) names m1's record as the proof of official: a client with
	// the quorum does not believe it, since one record cannot prove two
	// approvals.
	lone := newClient(t)
	writePolicy(t, lone, fmt.Sprintf("keys: {repository: [%s], official: [%s]}\n", pub["ci"], pub["m1"]))
	file := filepath.Join(t.TempDir(), "index.yaml")
	if _, err := lone.IndexBuild(ctx, tierpack.IndexBuildRequest{Repos: []string{reg.Host + "/falcosecurity/falco-debug-bundle"}, File: file}); err != nil {
		t.Fatal(err)
	}
	if found, err := lone.Search(ctx, tierpack.SearchRequest{Files: []string{file}, Query: index.Query{Tier: tier.Official}}); err != nil || len(found.Results) != 1 {
		t.Fatalf("the index without the quorum: %+v, %v", found, err)
	}
	if found, err := cl.Search(ctx, tierpack.SearchRequest{Files: []string{file}, Query: index.Query{Tier: tier.Official}}); err != nil || len(found.Results) != 0 {
		t.Fatalf("search --tier official believed one record for a quorum of two: %+v, %v", found, err)
	}

	// m2 co-signs: official, and nothing moved.
	co, err := cl.Promote(ctx, tierpack.PromoteRequest{Ref: ref, To: tier.Official, Key: priv["m2"], By: "m2"})
	if err != nil || !co.CoSigned || co.Digest != root.Digest.String() {
		t.Fatalf("m2's approval: %+v, %v", co, err)
	}
	if res, err := pullAt(t, cl, ref, tier.Official); err != nil || res.VerifiedTier != "official" {
		t.Fatalf("two of two: %v", err)
	}
	// A demotion needs one signer of the tier being left, and resets the count.
	if _, err := cl.Promote(ctx, tierpack.PromoteRequest{Ref: ref, To: tier.Repository, Key: priv["m3"], By: "m3", ReasonKind: "policy"}); err != nil {
		t.Fatal(err)
	}
	if _, err := pullAt(t, cl, ref, tier.Official); !errors.Is(err, tier.ErrBelow) {
		t.Fatalf("after a demotion: %v", err)
	}
}

// A revoked key counts for nothing; resign moves a version's records to a
// new key first, so revoking the old one keeps the tier; a key past its
// notAfter signs nothing new.
func TestRevocationAndRotation(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.New(t)
	cl := newClient(t)
	priv, pub := keys(t, cl, "ci", "old", "new")
	policy := func(official, extra string) {
		writePolicy(t, cl, fmt.Sprintf("keys: {repository: [%s], official: [%s]}\n%s", pub["ci"], official, extra))
	}
	policy(pub["old"], "")
	ref := reg.Host + "/rot/falco-debug-bundle:1.2.0"
	if _, err := cl.Publish(ctx, tierpack.PublishRequest{Dir: debugBundle, Ref: ref, Key: priv["ci"], By: "ci"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Promote(ctx, tierpack.PromoteRequest{Ref: ref, To: tier.Official, Key: priv["old"], By: "core"}); err != nil {
		t.Fatal(err)
	}
	if _, err := pullAt(t, cl, ref, tier.Official); err != nil {
		t.Fatal(err)
	}
	// The attack a leaked key allows, answered by revocation: the old
	// key's records count for nothing, even listed as trusted.
	policy(pub["old"]+", "+pub["new"], "revoked: ["+pub["old"]+"]\n")
	if _, err := pullAt(t, cl, ref, tier.Official); !errors.Is(err, tier.ErrBelow) {
		t.Fatalf("a revoked key's record still counts: %v", err)
	}

	// Rotation: resign with the new key while the old one is trusted,
	// then revoke the old one: still official.
	policy(pub["old"]+", "+pub["new"], "")
	rs, err := cl.Resign(ctx, tierpack.ResignRequest{Ref: ref, Key: priv["new"]})
	if err != nil || len(rs.Records) == 0 {
		t.Fatalf("resign: %+v, %v", rs, err)
	}
	policy(pub["new"], "revoked: ["+pub["old"]+"]\n")
	if res, err := pullAt(t, cl, ref, tier.Official); err != nil || res.VerifiedTier != "official" {
		t.Fatalf("after resign and revocation: %v", err)
	}

	// notAfter: records dated after it count for nothing.
	policy(fmt.Sprintf("{key: %s, notAfter: 2020-01-01T00:00:00Z}", pub["new"]), "revoked: ["+pub["old"]+"]\n")
	_, err = pullAt(t, cl, ref, tier.Official)
	if !errors.Is(err, tier.ErrBelow) || !strings.Contains(err.Error(), "after its key's notAfter 2020-01-01T00:00:00Z") {
		t.Fatalf("a record dated after its key's notAfter: %v", err)
	}
}

// keyID is the ID of the public key file p.
func keyID(t *testing.T, p string) string {
	t.Helper()
	k, err := sign.LoadPublicKeyFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return k.ID
}
