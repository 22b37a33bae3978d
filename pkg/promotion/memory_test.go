package promotion

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"oras.land/oras-go/v2/content/oci"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/sdk/tier"
)

// TestMemory keeps only trusted demotions, once however many manifests
// carry them, recalls them under every digest they are about once the
// registry forgets them, and never lets an edited copy count: a kept
// record is verified again like a fetched one.
func TestMemory(t *testing.T) {
	ctx := context.Background()
	store, err := oci.New(filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	core, stranger := newKey(t), newKey(t)
	trusted := []sign.PublicKey{core.pub}
	keysFor := func(tier.Tier) []sign.PublicKey { return trusted }
	a, a2, b := pushManifest(t, store, "a"), pushManifest(t, store, "a2"), pushManifest(t, store, "b")
	t0 := time.Unix(1700000000, 0).UTC()
	promotion := Record{Subject: a.Digest.String(), Source: b.Digest.String(), From: tier.Repository, To: tier.Official, By: "jane", Sequence: 1, Time: t0}
	demotion := Record{Subject: a2.Digest.String(), Source: a.Digest.String(), From: tier.Official, To: tier.Contrib, By: "joe", Reason: "CVE", Sequence: 2, Time: t0.Add(time.Minute)}
	untrusted := demotion
	untrusted.Reason, untrusted.Time = "untrusted", t0.Add(2*time.Minute)
	for _, at := range []struct {
		rec    Record
		signer testKey
	}{{promotion, core}, {demotion, core}, {untrusted, stranger}} {
		if _, err := Attach(ctx, store, at.rec, at.signer.signer, must(t, store, at.rec.Subject), must(t, store, at.rec.Source)); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := List(ctx, store, a)
	if err != nil || len(recs) != 3 {
		t.Fatalf("List: %d records, %v", len(recs), err)
	}

	m := Memory{Dir: t.TempDir()}
	m.Remember(recs, trusted)
	m.Remember(append(recs, recs...), trusted) // the same records again: kept once
	for _, d := range []string{a.Digest.String(), a2.Digest.String()} {
		files, _ := filepath.Glob(filepath.Join(m.Dir, "sha256", strings.TrimPrefix(d, "sha256:"), "*.json"))
		if len(files) != 1 {
			t.Fatalf("kept about %s: %v (want the trusted demotion only)", d, files)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(m.Dir, "sha256", b.Digest.Encoded(), "*")); len(files) != 0 {
		t.Fatalf("a promotion was kept: %v", files)
	}

	// The registry forgets: the demotion comes back, about a and a2 alike,
	// marked as remembered.
	for _, d := range []string{a.Digest.String(), a2.Digest.String()} {
		got := m.Recall(d, "", nil)
		if len(got) != 1 || !got[0].Remembered || got[0].Reason != "CVE" {
			t.Fatalf("Recall(%s) = %+v", d, got)
		}
		if l, err := Latest(got, d, "", keysFor); err != nil || !l.Demotion() {
			t.Fatalf("Latest of the recalled records: %+v, %v", l, err)
		}
	}
	// A record the registry still lists is not added twice.
	var listed []Signed
	for _, r := range recs {
		if r.Reason == "CVE" {
			listed = append(listed, r)
		}
	}
	if got := m.Recall(a.Digest.String(), "", listed); len(got) != 1 {
		t.Fatalf("Recall added a listed record again: %d", len(got))
	}

	// Editing a kept record (say, to drop the demotion) breaks its
	// signature: it no longer counts.
	files, _ := filepath.Glob(filepath.Join(m.Dir, "sha256", a.Digest.Encoded(), "*.json"))
	data, _ := os.ReadFile(files[0])
	edited := strings.Replace(string(data), `"signature":"`, `"signature":"A`, 1)
	if err := os.WriteFile(files[0], []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Latest(m.Recall(a.Digest.String(), "", nil), a.Digest.String(), "", keysFor); err == nil {
		t.Fatal("an edited kept record still counts")
	}
	// A malformed digest names no folder.
	if got := m.Recall("sha256:../../etc", "", nil); len(got) != 0 {
		t.Fatalf("Recall of a malformed digest: %+v", got)
	}
}

// must resolves a digest of the store.
func must(t *testing.T, store *oci.Store, d string) ocispec.Descriptor {
	t.Helper()
	desc, err := store.Resolve(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return desc
}
