package tierpack_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/pkg/trust"
	"github.com/tierpack/tierpack/sdk/tier"
)

// A mirror that cannot serve a reference — not synced yet, or down — does
// not fail the pull: as Docker and containerd do, tierpack reads from the
// registry itself then (content is checked by digest and tiers by signed
// records, so a mirror is trusted for nothing either way). Writes never go
// to a mirror.
func TestMirrorFallsBackToTheRegistry(t *testing.T) {
	ctx := context.Background()
	origin, mirror := registrytest.New(t), registrytest.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close() // nothing listens there any more

	cl := newClient(t)
	ciKey, ciPub := keyPair(t, cl, "ci")
	ref := origin.Host + "/scripts/falco-debug-bundle:1.2.0"
	if _, err := cl.Publish(ctx, tierpack.PublishRequest{Dir: debugBundle, Ref: ref, Key: ciKey, By: "ci"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, mirror string }{{"mirror without the artifact", mirror.Host}, {"mirror down", down}} {
		t.Run(tc.name, func(t *testing.T) {
			cl.Target.Registries = target.Registries{origin.Host: {Mirror: tc.mirror}}
			res, err := cl.Pull(ctx, tierpack.PullRequest{Ref: ref, OutputDir: filepath.Join(t.TempDir(), "out"), MinTier: tier.Repository, KeyFiles: []string{ciPub}})
			if err != nil {
				t.Fatalf("pull with %s: %v", tc.name, err)
			}
			if res.VerifiedTier != "repository" {
				t.Fatalf("pull with %s: %s", tc.name, res.Verdict)
			}
			if _, err := cl.Inspect(ctx, tierpack.InspectRequest{Ref: ref, KeyFiles: []string{ciPub}}); err != nil {
				t.Fatalf("inspect with %s: %v", tc.name, err)
			}
		})
	}
	// copy reads from the registry itself, never the mirror (here down).
	cl.Target.Registries = target.Registries{origin.Host: {Mirror: down}}
	if _, err := cl.Copy(ctx, ref, "oci:"+filepath.Join(t.TempDir(), "copy")); err != nil {
		t.Fatalf("copy with a mirror that is down: %v", err)
	}
	cl.Target.Registries = nil
}

// A mirror serves content, not trust: tier records and signatures are read
// from the registry itself. A mirror filled by a plain `oras cp` (no
// referrers) still gives verified pulls, and a stale or hostile mirror that
// still tags the demoted manifest cannot withhold the demotion.
func TestMirrorCannotWithholdRecords(t *testing.T) {
	needORAS(t)
	ctx := context.Background()
	origin, mirror := registrytest.New(t), registrytest.NewGGCR(t)
	pub := newClient(t)
	ciKey, ciPub := keyPair(t, pub, "ci")
	ref := origin.Host + "/scripts/falco-debug-bundle:1.2.0"
	if _, err := pub.Publish(ctx, tierpack.PublishRequest{Dir: debugBundle, Ref: ref, Key: ciKey, By: "ci"}); err != nil {
		t.Fatal(err)
	}
	oras(t, "cp", "--from-plain-http", "--to-plain-http", ref, mirror.Host+"/scripts/falco-debug-bundle:1.2.0")

	user := func() *tierpack.Client {
		cl := newClient(t)
		cl.Target.Registries = target.Registries{origin.Host: {Mirror: mirror.Host}}
		return cl
	}
	pull := func(cl *tierpack.Client) (*tierpack.PullResult, error) {
		return cl.Pull(ctx, tierpack.PullRequest{Ref: ref, OutputDir: filepath.Join(t.TempDir(), "out"), MinTier: tier.Repository, KeyFiles: []string{ciPub}})
	}
	if res, err := pull(user()); err != nil || res.VerifiedTier != "repository" {
		t.Fatalf("verified pull through a mirror without the records: %v", err)
	}

	// Demoted at the registry; the mirror still tags the old manifest.
	if _, err := pub.Promote(ctx, tierpack.PromoteRequest{Ref: ref, To: tier.Contrib, Key: ciKey, By: "ci", Reason: "CVE-2026-3"}); err != nil {
		t.Fatal(err)
	}
	_, err := pull(user())
	if !errors.Is(err, tier.ErrBelow) || !strings.Contains(err.Error(), "CVE-2026-3") {
		t.Fatalf("pull through a mirror that still tags the demoted manifest: %v", err)
	}
}

// The attack: block the registry so that only a stale mirror answers, one
// copied (records and all) before a demotion. Tier records are read from
// the registry itself on every path — pull, tags --long, index build — so
// with the registry blocked a tier above contrib is undecided (exit 4),
// and the stale records are believed only when the user says so
// (TrustMirror, --trust-mirror).
func TestStaleMirrorDecidesNothing(t *testing.T) {
	needORAS(t)
	ctx := context.Background()
	var blocked atomic.Bool
	origin := registrytest.New(t, registrytest.WithHandlerWrapper(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if blocked.Load() {
				http.Error(w, "blocked", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		})
	}))
	mirror := registrytest.NewGGCR(t)
	pub := newClient(t)
	ciKey, ciPub := keyPair(t, pub, "ci")
	repo := origin.Host + "/scripts/falco-debug-bundle"
	ref := repo + ":1.2.0"
	if _, err := pub.Publish(ctx, tierpack.PublishRequest{Dir: debugBundle, Ref: ref, Key: ciKey, By: "ci"}); err != nil {
		t.Fatal(err)
	}
	oras(t, "cp", "-r", "--from-plain-http", "--to-plain-http", ref, mirror.Host+"/scripts/falco-debug-bundle:1.2.0")
	if _, err := pub.Promote(ctx, tierpack.PromoteRequest{Ref: ref, To: tier.Contrib, Key: ciKey, By: "ci", ReasonKind: "security", Advisory: "CVE-2026-3"}); err != nil {
		t.Fatal(err)
	}
	blocked.Store(true)

	user := func(trustMirror bool) *tierpack.Client {
		cl := newClient(t)
		cl.Target.Registries = target.Registries{origin.Host: {Mirror: mirror.Host}}
		cl.TrustMirror = trustMirror
		return cl
	}
	_, err := user(false).Pull(ctx, tierpack.PullRequest{Ref: ref, OutputDir: filepath.Join(t.TempDir(), "out"), MinTier: tier.Repository, KeyFiles: []string{ciPub}})
	if tierpack.CodeOf(err) != tierpack.CodeTierRefused || !strings.Contains(err.Error(), "undecided") || !strings.Contains(err.Error(), "only its mirror") {
		t.Fatalf("pull --tier repository with only a stale mirror answering: %v (code %d), want undecided, exit 4", err, tierpack.CodeOf(err))
	}
	tags, err := user(false).Tags(ctx, tierpack.TagsRequest{Repo: repo, Long: true, KeyFiles: []string{ciPub}})
	if err != nil || len(tags.Tags) != 1 || tags.Tags[0].VerifiedTier != "" || !strings.Contains(tags.Tags[0].Tier, "undecided") {
		t.Fatalf("tags --long with only a stale mirror answering: %+v, %v", tags, err)
	}
	_, err = user(false).IndexBuild(ctx, tierpack.IndexBuildRequest{Repos: []string{repo}, File: filepath.Join(t.TempDir(), "index.yaml"), KeyFiles: []string{ciPub}})
	if !errors.Is(err, trust.ErrUndecided) || tierpack.CodeOf(err) != tierpack.CodeTierRefused {
		t.Fatalf("index build with only a stale mirror answering: %v, want undecided", err)
	}

	// Asked explicitly, the mirror's (stale) records decide.
	res, err := user(true).Pull(ctx, tierpack.PullRequest{Ref: ref, OutputDir: filepath.Join(t.TempDir(), "trusted"), MinTier: tier.Repository, KeyFiles: []string{ciPub}})
	if err != nil || res.VerifiedTier != "repository" {
		t.Fatalf("pull with TrustMirror: %v", err)
	}
}
