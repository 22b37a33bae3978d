// Package sign makes and checks cosign-compatible signatures.
//
// Keys are cosign's key pairs: an ECDSA P-256 private key, PKCS#8, encrypted
// with scrypt+secretbox (go-securesystemslib's "encrypted" format) in a PEM
// block "ENCRYPTED SIGSTORE PRIVATE KEY", and a PKIX "PUBLIC KEY" PEM. A pair
// made by `tierpack key generate` works with `cosign sign --key`, and one
// made by `cosign generate-key-pair` works with tierpack.
//
// Signatures are stored both ways cosign stores them, and found and
// checked in either:
//
//   - A Sigstore bundle (v0.3, application/vnd.dev.sigstore.bundle.v0.3+json),
//     what cosign v3 writes by default: a DSSE envelope of an in-toto
//     statement (predicate https://sigstore.dev/cosign/sign/v1, subject the
//     signed manifest's digest) signed with the key, the key identified by
//     a hint only, no transparency log entry. It is the one layer of an OCI
//     1.1 referrer of the signed manifest (artifactType the bundle media
//     type, empty config, annotations dev.sigstore.bundle.content and
//     dev.sigstore.bundle.predicateType), so `oras cp -r` and any
//     referrers-aware copy carry it along.
//   - The legacy format cosign v2 reads: the simple-signing payload
//     (application/vnd.dev.cosign.simplesigning.v1+json) naming the signed
//     manifest's digest, as a layer of an OCI manifest tagged
//     sha256-<hex>.sig in the same repository, with the base64 signature in
//     the layer annotation dev.cosignproject.cosign/signature.
//
// So `cosign verify --key cosign.pub --insecure-ignore-tlog=true REF` (v2
// or v3) accepts what `tierpack sign` made (there is no transparency log on
// an offline registry), and `tierpack verify` accepts what `cosign sign
// --tlog-upload=false` made with either version. Referrers are found with
// oci.Referrers, which also copes with registries that list them under the
// wrong artifactType.
//
// The crypto, the bundle and the payload formats come from sigstore's Go
// libraries (sigstore, sigstore-go, protobuf-specs); this package only does
// the OCI storage, which sigstore leaves to cosign.
package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// PEM block types of cosign private keys.
const (
	SigstorePrivateKeyPEM = "ENCRYPTED SIGSTORE PRIVATE KEY"
	CosignPrivateKeyPEM   = "ENCRYPTED COSIGN PRIVATE KEY"
)

// PasswordEnv is where key passwords come from when there is no terminal:
// the same variable cosign reads.
const PasswordEnv = "COSIGN_PASSWORD"

// ErrBadKey is wrapped by errors about unreadable keys.
var ErrBadKey = errors.New("bad key")

// GenerateKeyPair returns a new cosign-compatible key pair as PEM: the
// private key encrypted with password (which may be empty), and the public
// key.
func GenerateKeyPair(password []byte) (privPEM, pubPEM []byte, err error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	enc, err := encrypted.Encrypt(der, password)
	if err != nil {
		return nil, nil, err
	}
	privPEM = pem.EncodeToMemory(&pem.Block{Type: SigstorePrivateKeyPEM, Bytes: enc})
	pubPEM, err = cryptoutils.MarshalPublicKeyToPEM(priv.Public())
	return privPEM, pubPEM, err
}

// LoadPrivateKey decrypts a cosign private key.
func LoadPrivateKey(privPEM, password []byte) (signature.SignerVerifier, error) {
	block, _ := pem.Decode(privPEM)
	if block == nil {
		return nil, fmt.Errorf("%w: not PEM: expected a cosign private key", ErrBadKey)
	}
	if block.Type != SigstorePrivateKeyPEM && block.Type != CosignPrivateKeyPEM {
		return nil, fmt.Errorf("%w: PEM type %q: expected an encrypted cosign private key (%q)", ErrBadKey, block.Type, SigstorePrivateKeyPEM)
	}
	der, err := encrypted.Decrypt(block.Bytes, password)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot decrypt the private key: wrong password? (set %s)", ErrBadKey, PasswordEnv)
	}
	pk, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return signature.LoadSignerVerifier(pk, crypto.SHA256)
}

// LoadPrivateKeyFile reads and decrypts a private key file.
func LoadPrivateKeyFile(path string, password []byte) (signature.SignerVerifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading private key: %w", err)
	}
	sv, err := LoadPrivateKey(b, password)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sv, nil
}

// PublicKey is a trusted verification key.
type PublicKey struct {
	// ID identifies the key: the first 16 hex digits of the sha256 of its
	// DER encoding.
	ID string
	// Source is where it was loaded from, for messages.
	Source   string
	Verifier signature.Verifier
	Key      crypto.PublicKey
	// NotAfter, when set, is the last time a record this key signs may
	// carry (the policy's notAfter: a key being rotated out).
	NotAfter time.Time
}

// LoadPublicKey parses a PEM public key.
func LoadPublicKey(pubPEM []byte, source string) (PublicKey, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pubPEM)
	if err != nil {
		return PublicKey{}, fmt.Errorf("%w: %s: not a PEM public key: %v", ErrBadKey, source, err)
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return PublicKey{}, fmt.Errorf("%w: %s: %v", ErrBadKey, source, err)
	}
	id, err := KeyID(pub)
	if err != nil {
		return PublicKey{}, err
	}
	return PublicKey{ID: id, Source: source, Verifier: v, Key: pub}, nil
}

// LoadPublicKeyFile reads a PEM public key file.
func LoadPublicKeyFile(path string) (PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return PublicKey{}, fmt.Errorf("reading public key: %w", err)
	}
	return LoadPublicKey(b, path)
}

// KeyID returns a short identifier for a public key.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := cryptoutils.MarshalPublicKeyToDER(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:8]), nil
}

// SignerKeyID returns the ID of a signer's public key.
func SignerKeyID(s signature.Signer) (string, error) {
	pub, err := s.PublicKey()
	if err != nil {
		return "", err
	}
	return KeyID(pub)
}
