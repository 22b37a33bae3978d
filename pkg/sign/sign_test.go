package sign

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// keyPair returns a new encrypted private key PEM and its public key.
func keyPair(t *testing.T, password string) ([]byte, PublicKey) {
	t.Helper()
	priv, pub, err := GenerateKeyPair([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	k, err := LoadPublicKey(pub, "test.pub")
	if err != nil {
		t.Fatal(err)
	}
	return priv, k
}

func TestKeys(t *testing.T) {
	priv, pub := keyPair(t, "s3cret")
	if _, err := LoadPrivateKey(priv, []byte("wrong")); !errors.Is(err, ErrBadKey) {
		t.Errorf("wrong password: %v", err)
	}
	sv, err := LoadPrivateKey(priv, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := SignerKeyID(sv)
	if err != nil || id != pub.ID || len(id) != 16 {
		t.Errorf("key id %q vs %q: %v", id, pub.ID, err)
	}
	if _, err := LoadPrivateKey([]byte("not pem"), nil); !errors.Is(err, ErrBadKey) {
		t.Errorf("garbage key: %v", err)
	}
	if _, err := LoadPublicKey([]byte("not pem"), "x"); !errors.Is(err, ErrBadKey) {
		t.Errorf("garbage public key: %v", err)
	}
}

func TestSignVerify(t *testing.T) {
	ctx := context.Background()
	store, err := oci.New(filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`)
	subject := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, manifest)
	if err := store.Push(ctx, subject, bytes.NewReader(manifest)); err != nil {
		t.Fatal(err)
	}
	privA, pubA := keyPair(t, "")
	_, pubB := keyPair(t, "")
	signer, err := LoadPrivateKey(privA, nil)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := Verify(ctx, store, subject, []PublicKey{pubA}); !errors.Is(err, ErrNoSignature) {
		t.Fatalf("unsigned: %v", err)
	}
	if _, err := Sign(ctx, store, "localhost/demo", subject, signer); err != nil {
		t.Fatal(err)
	}
	v, err := Verify(ctx, store, subject, []PublicKey{pubB, pubA})
	if err != nil || v.KeyID != pubA.ID || v.Identity != "localhost/demo" || v.Format != FormatBundle {
		t.Fatalf("verify: %+v %v", v, err)
	}
	if _, err := Verify(ctx, store, subject, []PublicKey{pubB}); !errors.Is(err, ErrUntrusted) {
		t.Errorf("untrusted key: %v", err)
	}
	if _, err := Verify(ctx, store, subject, nil); !errors.Is(err, ErrUntrusted) {
		t.Errorf("no keys: %v", err)
	}
	// Signing again with the same key adds no second signature.
	d, err := Sign(ctx, store, "localhost/demo", subject, signer)
	if err != nil || d.Digest != "" {
		t.Errorf("re-sign: %v %v", d, err)
	}
	sigs, err := Signatures(ctx, store, subject)
	// One of each format: the bundle referrer and the legacy .sig layer.
	if err != nil || len(sigs) != 2 || sigs[0].Format != FormatBundle || sigs[1].Format != FormatLegacy || SignatureTag(subject.Digest) != "sha256-"+subject.Digest.Encoded()+".sig" {
		t.Errorf("signatures: %d %v", len(sigs), err)
	}
}
