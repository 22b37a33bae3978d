package tierpack_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk/tier"
)

// TestCatalogHistoryAndUnreachableRegistry: the catalog carries each
// version's signatures and tier records from the registry; with the
// registry gone it still lists what the index says, and says why the
// history is missing.
func TestCatalogHistoryAndUnreachableRegistry(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.New(t)
	cl := newClient(t)
	ci, ciPub := keyPair(t, cl, "ci")
	core, corePub := keyPair(t, cl, "core")
	writePolicy(t, cl, "keys:\n  repository: ["+ciPub+"]\n  official: ["+corePub+"]\n")
	ref := reg.Host + "/scripts/falco-debug-bundle"
	if _, err := cl.Publish(ctx, tierpack.PublishRequest{Dir: debugBundle, Ref: ref, Key: ci, By: "ci"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Promote(ctx, tierpack.PromoteRequest{Ref: ref + ":1.2.0", To: tier.Official, Key: core, By: "core-maintainer", Reason: "core review"}); err != nil {
		t.Fatal(err)
	}
	quick := reg.Host + "/contrib/falco-quickstart"
	if _, err := cl.Publish(ctx, tierpack.PublishRequest{Dir: quickstart, Ref: quick}); err != nil {
		t.Fatal(err)
	}
	var keys []string // the policy's
	file := filepath.Join(t.TempDir(), "index.yaml")
	if _, err := cl.IndexBuild(ctx, tierpack.IndexBuildRequest{Repos: []string{ref, quick}, File: file, KeyFiles: keys}); err != nil {
		t.Fatal(err)
	}

	res, err := cl.Catalog(ctx, tierpack.CatalogRequest{Files: []string{file}, KeyFiles: keys})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 2 || len(res.Entries[0].Versions) != 1 || res.Entries[1].Hit.Name != "falco-quickstart" || res.Entries[1].Versions[0].History == nil {
		t.Fatalf("catalog: %+v", res)
	}
	e := res.Entries[0]
	v := e.Versions[0]
	if e.Hit.VerifiedTier != "official" || v.History == nil || v.HistoryError != "" || v.Verdict != "official (verified)" {
		t.Fatalf("entry %+v version %+v", e.Hit, v)
	}
	last := v.History.Promotions[len(v.History.Promotions)-1]
	if last.From != tier.Repository || last.To != tier.Official || last.Reason != "core review" || len(v.History.Signatures) == 0 {
		t.Fatalf("history: %+v", v.History)
	}

	// Repositories given directly are indexed on the fly.
	res, err = cl.Catalog(ctx, tierpack.CatalogRequest{Repos: []string{ref}, KeyFiles: keys, NoHistory: true})
	if err != nil || len(res.Entries) != 1 || res.Entries[0].Hit.VerifiedTier != "official" || res.Entries[0].Versions[0].History != nil {
		t.Fatalf("repos: %+v %v", res, err)
	}

	reg.Close()
	start := time.Now()
	res, err = cl.Catalog(ctx, tierpack.CatalogRequest{Files: []string{file}, KeyFiles: keys, LookupTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	v = res.Entries[0].Versions[0]
	if v.History != nil || !strings.HasPrefix(v.HistoryError, "history unavailable: ") || res.Entries[0].Hit.VerifiedTier != "official" {
		t.Fatalf("registry gone: %+v", v)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("an unreachable registry took %v", d)
	}
}
