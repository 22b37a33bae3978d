// Package keylesstest signs OCI manifests keylessly, for tests, with
// sigstore-go's virtual Sigstore: a Fulcio CA, a Rekor log and a
// timestamp authority in memory, no network. It writes what cosign v3
// writes for `cosign sign` (a Sigstore bundle v0.3 holding a DSSE envelope
// of an in-toto statement about the manifest, with the certificate and the
// log entry, inclusion proof and promise) and the trusted_root.json that
// verifies it.
package keylesstest

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Sigstore is one virtual Sigstore instance.
type Sigstore struct{ vs *ca.VirtualSigstore }

// New starts a virtual Sigstore.
func New() (*Sigstore, error) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		return nil, err
	}
	return &Sigstore{vs: vs}, nil
}

// TrustedRoot is its trusted_root.json (cosign's format). The virtual
// Sigstore names its logs by the hex of their key ID in bytes, where the
// file holds the raw key ID; the logs are written with the raw one.
func (s *Sigstore) TrustedRoot() ([]byte, error) {
	raw := func(logs map[string]*root.TransparencyLog) (map[string]*root.TransparencyLog, error) {
		out := map[string]*root.TransparencyLog{}
		for k, l := range logs {
			id, err := hex.DecodeString(k)
			if err != nil {
				return nil, err
			}
			c := *l
			c.ID = id
			out[k] = &c
		}
		return out, nil
	}
	rekor, err := raw(s.vs.RekorLogs())
	if err != nil {
		return nil, err
	}
	ct, err := raw(s.vs.CTLogs())
	if err != nil {
		return nil, err
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, s.vs.FulcioCertificateAuthorities(), ct, s.vs.TimestampingAuthorities(), rekor)
	if err != nil {
		return nil, err
	}
	return tr.MarshalJSON()
}

// Sign returns a bundle (JSON) signing manifest subject of repository
// name as cosign v3 does, with a certificate for identity (its subject)
// from issuer. Without inclusionProof the log entry carries only its
// promise, as bundles from before Rekor's proofs did.
func (s *Sigstore) Sign(identity, issuer, name string, subject digest.Digest, inclusionProof bool) ([]byte, error) {
	statement, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"predicateType": "https://sigstore.dev/cosign/sign/v1",
		"subject":       []map[string]any{{"name": name, "digest": map[string]string{"sha256": subject.Encoded()}}},
		"predicate":     map[string]any{},
	})
	if err != nil {
		return nil, err
	}
	e, err := s.vs.AttestAtTime(identity, issuer, statement, nowish(), inclusionProof)
	if err != nil {
		return nil, err
	}
	vc, err := e.VerificationContent()
	if err != nil {
		return nil, err
	}
	sc, err := e.SignatureContent()
	if err != nil {
		return nil, err
	}
	env := sc.EnvelopeContent().RawEnvelope()
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, err
	}
	pe := &protodsse.Envelope{Payload: payload, PayloadType: env.PayloadType}
	for _, sig := range env.Signatures {
		raw, err := base64.StdEncoding.DecodeString(sig.Sig)
		if err != nil {
			return nil, err
		}
		pe.Signatures = append(pe.Signatures, &protodsse.Signature{Sig: raw, Keyid: sig.KeyID})
	}
	entries, err := e.TlogEntries()
	if err != nil {
		return nil, err
	}
	var tles []*protorekor.TransparencyLogEntry
	for _, en := range entries {
		tle, err := s.logEntry(en)
		if err != nil {
			return nil, err
		}
		tles = append(tles, tle)
	}
	b := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:     &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw}},
			TlogEntries: tles,
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: pe},
	}
	// A v0.3 bundle must carry the inclusion proof: one without is invalid,
	// and written only to be refused.
	if _, err := sgbundle.NewBundle(b); err != nil && inclusionProof {
		return nil, fmt.Errorf("the bundle written is not valid: %w", err)
	}
	return protojson.Marshal(b)
}

// logEntry is en as a bundle carries it: with its kind, and its promise
// (the log's signed entry timestamp, signed again here: tlog.Entry does
// not give it out).
func (s *Sigstore) logEntry(en *tlog.Entry) (*protorekor.TransparencyLogEntry, error) {
	tle := proto.Clone(en.TransparencyLogEntry()).(*protorekor.TransparencyLogEntry)
	var body struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(tle.CanonicalizedBody, &body); err != nil {
		return nil, err
	}
	tle.KindVersion = &protorekor.KindVersion{Kind: body.Kind, Version: body.APIVersion}
	logID, err := s.vs.RekorLogID()
	if err != nil {
		return nil, err
	}
	set, err := s.vs.RekorSignPayload(tlog.RekorPayload{Body: base64.StdEncoding.EncodeToString(tle.CanonicalizedBody), IntegratedTime: tle.IntegratedTime, LogIndex: tle.LogIndex, LogID: logID})
	if err != nil {
		return nil, err
	}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	return tle, nil
}

// nowish is when the virtual log integrates a signing, in whole seconds:
// the virtual Fulcio issues certificates valid from now, so the next
// second, which is after it and before anything the test does a second
// later.
func nowish() time.Time { return time.Now().Add(time.Second) }
