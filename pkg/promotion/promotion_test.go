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
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"

	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/tier"
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

func TestAttachListVerify(t *testing.T) {
	ctx := context.Background()
	store, err := oci.New(filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	priv, pub, _ := sign.GenerateKeyPair(nil)
	signer, err := sign.LoadPrivateKey(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	trusted, _ := sign.LoadPublicKey(pub, "core.pub")
	_, otherPub, _ := sign.GenerateKeyPair(nil)
	stranger, _ := sign.LoadPublicKey(otherPub, "other.pub")

	a := pushManifest(t, store, "a")
	b := pushManifest(t, store, "b")
	if _, err := Verify(ctx, store, a, tier.Official, []sign.PublicKey{trusted}); !errors.Is(err, ErrNoRecord) {
		t.Fatalf("no record: %v", err)
	}
	rec := Record{Subject: a.Digest.String(), Source: b.Digest.String(), From: tier.Repository, To: tier.Official, By: "jane", Reason: "review", Time: time.Unix(1700000000, 0).UTC()}
	if _, err := Attach(ctx, store, a, rec, signer); err != nil {
		t.Fatal(err)
	}
	// A record must name the manifest it is attached to.
	wrong := rec
	wrong.Subject = b.Digest.String()
	if _, err := Attach(ctx, store, a, wrong, signer); err == nil {
		t.Fatal("Attach accepted a record for another manifest")
	}

	recs, err := List(ctx, store, a)
	if err != nil || len(recs) != 1 || recs[0].By != "jane" || recs[0].To != tier.Official {
		t.Fatalf("List: %+v %v", recs, err)
	}
	got, err := Verify(ctx, store, a, tier.Official, []sign.PublicKey{stranger, trusted})
	if err != nil || got.VerifiedBy != trusted.ID {
		t.Fatalf("Verify: %+v %v", got, err)
	}
	if _, err := Verify(ctx, store, a, tier.Official, []sign.PublicKey{stranger}); err == nil || !strings.Contains(err.Error(), "not signed by a trusted key") {
		t.Errorf("untrusted: %v", err)
	}
	if _, err := Verify(ctx, store, a, tier.Repository, []sign.PublicKey{trusted}); err == nil || !strings.Contains(err.Error(), "promotes to official, not repository") {
		t.Errorf("wrong tier: %v", err)
	}
	if _, err := Verify(ctx, store, a, tier.Official, nil); err == nil || !strings.Contains(err.Error(), "no trusted keys") {
		t.Errorf("no keys: %v", err)
	}
	if recs, _ := List(ctx, store, b); len(recs) != 0 {
		t.Errorf("records leaked to another manifest: %v", recs)
	}
}
