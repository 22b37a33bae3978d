package promotion

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/tierpack/tierpack/pkg/home"
	"github.com/tierpack/tierpack/pkg/sign"
)

// Memory keeps the signed tier records a client has seen, so that one
// deleted from the registry later still counts: an attacker who can delete
// manifests could otherwise hide a demotion and re-tag the version back to
// the manifest it demoted. It protects every client that looked up the
// records after the demotion; a client that never saw it has only the
// registry to go by (the limit pkg/trust documents).
//
// Only records signed by a key the client trusts are kept, and a kept
// record is verified again each time it is used, like one fetched from a
// registry: the folder is a cache of signed statements, not a source of
// trust. Records are kept under each digest they are about,
// DIR/<alg>/<hex>/<alg>-<hex of the record>.json, and the names of the
// artifacts they are about are marked (DIR/names/<sha256 of the name>) so
// that a manifest of a known artifact that claims no tier worth checking
// (a demoted one) is still looked up.
type Memory struct{ Dir string }

// memo is a kept record: the signed bytes, exactly, and the signature.
type memo struct {
	Record    []byte `json:"record"`
	Signature string `json:"signature"`
	KeyID     string `json:"keyID"`
	Referrer  string `json:"referrer"`
}

// Remember keeps each record of recs that one of keys verifies, under
// every digest it is about, and marks name as an artifact with records.
// It is best effort: a record that cannot be kept is only not remembered.
func (m Memory) Remember(recs []Signed, keys []sign.PublicKey, name string) {
	kept := false
	for _, r := range recs {
		if _, err := sign.VerifyBytes(r.raw, r.Signature, keys); err != nil {
			continue
		}
		data, err := json.Marshal(memo{Record: r.raw, Signature: r.Signature, KeyID: r.KeyID, Referrer: r.Referrer})
		if err != nil {
			continue
		}
		for _, about := range []string{r.Subject, r.Source} {
			if p, ok := m.path(about, r.Referrer); ok {
				if _, err := os.Stat(p); err == nil || home.WriteFileAtomic(p, data, 0o644) == nil {
					kept = true
				}
			}
		}
	}
	if kept && name != "" && !m.Knows(name) {
		_ = home.WriteFileAtomic(m.namePath(name), nil, 0o644)
	}
}

// Recall returns recs and, after them, the remembered records about d
// that recs lacks, marked Remembered.
func (m Memory) Recall(d string, recs []Signed) []Signed {
	dir, ok := m.dir(d)
	if !ok {
		return recs
	}
	entries, _ := os.ReadDir(dir)
	listed := map[string]bool{}
	for _, r := range recs {
		listed[r.Referrer] = true
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || len(b) > maxRecord*2 {
			continue
		}
		var mm memo
		var rec Record
		if json.Unmarshal(b, &mm) != nil || listed[mm.Referrer] || json.Unmarshal(mm.Record, &rec) != nil || !rec.About(d) {
			continue
		}
		listed[mm.Referrer] = true
		recs = append(recs, Signed{Record: rec, Signature: mm.Signature, KeyID: mm.KeyID, Referrer: mm.Referrer, Remembered: true, raw: mm.Record})
	}
	return recs
}

// Knows reports whether records about an artifact called name were kept.
func (m Memory) Knows(name string) bool {
	if m.Dir == "" || name == "" {
		return false
	}
	_, err := os.Stat(m.namePath(name))
	return err == nil
}

// namePath hashes the name, which comes from a registry: it never becomes
// a path of its own.
func (m Memory) namePath(name string) string {
	h := sha256.Sum256([]byte(name))
	return filepath.Join(m.Dir, "names", hex.EncodeToString(h[:]))
}

// dir is where the records about digest d are kept; only a well-formed
// digest names a folder.
func (m Memory) dir(d string) (string, bool) {
	dg, err := digest.Parse(d)
	if m.Dir == "" || err != nil {
		return "", false
	}
	return filepath.Join(m.Dir, dg.Algorithm().String(), dg.Encoded()), true
}

func (m Memory) path(about, referrer string) (string, bool) {
	dir, ok := m.dir(about)
	ref, err := digest.Parse(referrer)
	if !ok || err != nil {
		return "", false
	}
	return filepath.Join(dir, strings.Join([]string{ref.Algorithm().String(), ref.Encoded()}, "-")+".json"), true
}
