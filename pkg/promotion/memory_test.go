package promotion

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"oras.land/oras-go/v2/content/oci"

	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/tier"
)

// TestMemory keeps only trusted records, recalls them under every digest
// they are about once the registry forgets them, and never lets an edited
// copy count: a kept record is verified again like a fetched one.
func TestMemory(t *testing.T) {
	ctx := context.Background()
	store, err := oci.New(filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	core, stranger := newKey(t), newKey(t)
	trusted := []sign.PublicKey{core.pub}
	keysFor := func(tier.Tier) []sign.PublicKey { return trusted }
	a, a2 := pushManifest(t, store, "a"), pushManifest(t, store, "a2")
	t0 := time.Unix(1700000000, 0).UTC()
	demotion := Record{Subject: a2.Digest.String(), Source: a.Digest.String(), From: tier.Official, To: tier.Contrib, By: "joe", Reason: "CVE", Sequence: 2, Time: t0}
	if _, err := Attach(ctx, store, demotion, core.signer, a2, a); err != nil {
		t.Fatal(err)
	}
	junk := demotion
	junk.Reason = "untrusted"
	if _, err := Attach(ctx, store, junk, stranger.signer, a2, a); err != nil {
		t.Fatal(err)
	}
	recs, err := List(ctx, store, a2)
	if err != nil || len(recs) != 2 {
		t.Fatalf("List: %d records, %v", len(recs), err)
	}

	m := Memory{Dir: t.TempDir()}
	if m.Knows("x") {
		t.Fatal("an empty memory knows a name")
	}
	m.Remember(recs, trusted, "../../x")
	if !m.Knows("../../x") {
		t.Fatal("the artifact's name was not marked")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(m.Dir), "x")); err == nil {
		t.Fatal("a name from the registry became a path")
	}

	// The registry forgets: the record comes back, about a and a2 alike,
	// marked as remembered; the untrusted one was never kept.
	for _, d := range []string{a.Digest.String(), a2.Digest.String()} {
		got := m.Recall(d, nil)
		if len(got) != 1 || !got[0].Remembered || got[0].Reason != "CVE" {
			t.Fatalf("Recall(%s) = %+v", d, got)
		}
		if l, err := Latest(got, d, keysFor); err != nil || !l.Demotion() {
			t.Fatalf("Latest of the recalled records: %+v, %v", l, err)
		}
	}
	// A record still listed is not added twice.
	if got := m.Recall(a.Digest.String(), recs[:1]); len(got) != 1 {
		t.Fatalf("Recall added a listed record again: %d", len(got))
	}

	// Editing a kept record (say, to drop the demotion's reason) breaks
	// its signature: it no longer counts.
	files, _ := filepath.Glob(filepath.Join(m.Dir, "sha256", a.Digest.Encoded(), "*.json"))
	if len(files) != 1 {
		t.Fatalf("kept files about a: %v", files)
	}
	b, _ := os.ReadFile(files[0])
	edited := strings.Replace(string(b), `"signature":"`, `"signature":"A`, 1)
	if err := os.WriteFile(files[0], []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Latest(m.Recall(a.Digest.String(), nil), a.Digest.String(), keysFor); err == nil {
		t.Fatal("an edited kept record still counts")
	}
	// A malformed digest names no folder.
	if got := m.Recall("sha256:../../etc", nil); len(got) != 0 {
		t.Fatalf("Recall of a malformed digest: %+v", got)
	}
}
