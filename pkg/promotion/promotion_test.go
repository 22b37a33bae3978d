package promotion

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore/pkg/signature"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"

	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/sdk/tier"
)

func pushManifest(t *testing.T, store *oci.Store, note string) ocispec.Descriptor {
	t.Helper()
	m := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[],"annotations":{"n":"` + note + `"}}`)
	d := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, m)
	if err := store.Push(context.Background(), d, bytes.NewReader(m)); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAttachListLatest(t *testing.T) {
	ctx := context.Background()
	store, err := oci.New(filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	core := newKey(t)
	repoKey := newKey(t)
	stranger := newKey(t)
	keysFor := func(want tier.Tier) []sign.PublicKey {
		if want <= tier.Repository {
			return []sign.PublicKey{core.pub, repoKey.pub}
		}
		return []sign.PublicKey{core.pub}
	}

	a := pushManifest(t, store, "a")   // official
	a2 := pushManifest(t, store, "a2") // a demoted
	b := pushManifest(t, store, "b")
	if _, err := Latest(nil, a.Digest.String(), "", keysFor); !errors.Is(err, ErrNoRecord) {
		t.Fatalf("no record: %v", err)
	}
	t0 := time.Unix(1700000000, 0).UTC()
	promoted := Record{Subject: a.Digest.String(), Source: b.Digest.String(), From: tier.None, To: tier.Official, By: "jane", Sequence: 1, Time: t0}
	if _, err := Attach(ctx, store, promoted, core.signer, a, b); err != nil {
		t.Fatal(err)
	}
	// A record must be about every manifest it is attached to.
	if _, err := Attach(ctx, store, promoted, core.signer, a2); err == nil {
		t.Fatal("Attach accepted a manifest the record is not about")
	}
	recs, err := List(ctx, store, a)
	if err != nil || len(recs) != 1 || recs[0].By != "jane" || recs[0].To != tier.Official || recs[0].From != tier.None {
		t.Fatalf("List: %+v %v (a promotion from untiered must read back)", recs, err)
	}
	if got, err := Latest(recs, a.Digest.String(), "", keysFor); err != nil || got.VerifiedBy != core.pub.ID {
		t.Fatalf("Latest: %+v %v", got, err)
	}
	// A key trusted only for repository cannot grant official.
	onlyRepo := func(tier.Tier) []sign.PublicKey { return []sign.PublicKey{repoKey.pub, stranger.pub} }
	if _, err := Latest(recs, a.Digest.String(), "", onlyRepo); err == nil || !strings.Contains(err.Error(), "not signed by a key trusted for official") {
		t.Errorf("repository key for an official record: %v", err)
	}
	// The record travels to the source too: b knows it was superseded.
	if recs, _ := List(ctx, store, b); len(recs) != 1 || recs[0].Subject != a.Digest.String() {
		t.Errorf("source b's records: %+v", recs)
	}

	// Demote a to a2: the demotion is attached to both, with the next
	// sequence, so it is the latest record about a — even with a clock
	// that went backwards.
	demoted := Record{Subject: a2.Digest.String(), Source: a.Digest.String(), From: tier.Official, To: tier.Contrib, By: "joe",
		Reason: "CVE", Sequence: NextSequence(recs), Time: t0.Add(-time.Hour)}
	if _, err := Attach(ctx, store, demoted, core.signer, a2, a); err != nil {
		t.Fatal(err)
	}
	recs, _ = List(ctx, store, a)
	got, err := Latest(recs, a.Digest.String(), "", keysFor)
	if err != nil || !got.Demotion() || got.Reason != "CVE" || got.Sequence != 2 {
		t.Fatalf("after the demotion, Latest about a = %+v, %v", got, err)
	}
	// A demotion signed by an untrusted key is passed over.
	forged := demoted
	forged.Sequence, forged.Reason = 9, "forged"
	if _, err := Attach(ctx, store, forged, stranger.signer, a2, a); err != nil {
		t.Fatal(err)
	}
	recs, _ = List(ctx, store, a)
	if got, _ := Latest(recs, a.Digest.String(), "", keysFor); got.Reason != "CVE" {
		t.Errorf("an untrusted record won: %+v", got)
	}
}

type testKey struct {
	signer signature.Signer
	pub    sign.PublicKey
}

func newKey(t *testing.T) testKey {
	t.Helper()
	priv, pubPEM, err := sign.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sign.LoadPrivateKey(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sign.LoadPublicKey(pubPEM, "key.pub")
	if err != nil {
		t.Fatal(err)
	}
	return testKey{s, pub}
}

// TestListRefusesJunkRecords: past MaxRecords, List fails rather than read
// some and perhaps leave out the one that decides.
func TestListRefusesJunkRecords(t *testing.T) {
	ctx := context.Background()
	store, err := oci.New(filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	stranger := newKey(t)
	a := pushManifest(t, store, "a")
	for i := 0; i <= MaxRecords; i++ {
		junk := Record{Subject: a.Digest.String(), To: tier.Official, By: "spam", Sequence: i, Time: time.Unix(int64(1700000000+i), 0).UTC()}
		if _, err := Attach(ctx, store, junk, stranger.signer, a); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := List(ctx, store, a); !errors.Is(err, ErrTooManyRecords) {
		t.Fatalf("List of %d records: %v", MaxRecords+1, err)
	}
}
