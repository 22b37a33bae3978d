package promotion

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/tierpack/tierpack/pkg/home"
	"github.com/tierpack/tierpack/pkg/sign"
)

// Memory keeps the signed demotions a client has seen, so that one deleted
// from the registry later still counts: an attacker who can delete
// manifests could otherwise hide a demotion and re-tag the version back to
// the manifest it demoted. It protects every client that looked up the
// records after the demotion — the demoted manifest carries
// sdk.AnnotationRetieredFrom, so pulling or inspecting it looks them up; a
// client that never did has only the registry to go by (the limit pkg/trust
// documents).
//
// Memory can only lower a tier, never raise or hold one: it keeps
// demotions only, so a promotion record a maintainer deletes is gone, and a
// promotion seen in one registry does not vouch for a copy in another. Only
// demotions signed by a key the client trusts are kept, and a kept one is
// verified again each time it is used, like one fetched from a registry:
// the folder is a cache of signed statements, not a source of trust.
//
// A demotion is kept once per record (named by the sha256 of its signed
// bytes and signature, however many referrer manifests carry it) under each digest it is
// about and under its content identity (Record.Content), so that it caps
// every manifest of the content, DIR/<alg>/<hex>/<sha256 of the
// record>.json, at most maxKept per digest. Demotions stay keyed by
// content and digest, never by repository: a demoted digest copied
// elsewhere stays demoted.
type Memory struct{ Dir string }

// maxKept bounds the demotions kept about one digest (a genuine lineage
// has a handful) and so what Recall reads.
const maxKept = 64

// memo is a kept record: the signed bytes, exactly, and the signature.
type memo struct {
	Record    []byte `json:"record"`
	Signature string `json:"signature"`
	KeyID     string `json:"keyID"`
	Referrer  string `json:"referrer"`
}

// Remember keeps each demotion among recs that one of keys verifies, under
// every digest it is about. It is best effort: a demotion that cannot be
// kept is logged and only not remembered.
func (m Memory) Remember(recs []Signed, keys []sign.PublicKey) {
	for _, r := range recs {
		if !r.Demotion() {
			continue
		}
		if _, err := sign.VerifyBytes(r.raw, r.Signature, keys); err != nil {
			continue
		}
		data, err := json.Marshal(memo{Record: r.raw, Signature: r.Signature, KeyID: r.KeyID, Referrer: r.Referrer})
		if err != nil {
			continue
		}
		for _, about := range []string{r.Subject, r.Source, r.Content} {
			dir, ok := m.dir(about)
			if !ok {
				continue
			}
			p := filepath.Join(dir, recordName(r.raw, r.Signature))
			if _, err := os.Stat(p); err == nil {
				continue
			}
			home.RemoveStale(dir, "") // what a killed writer left
			if len(kept(dir)) >= maxKept {
				continue
			}
			if err := home.WriteFileAtomic(p, data, 0o644); err != nil {
				slog.Warn("could not keep a demotion record: a registry that deletes it later could hide it from this client", "record", r.Referrer, "err", err)
			}
		}
	}
}

// Recall returns recs and, after them, the kept demotions that cover
// digest d of content identity content (Record.Covers; "" for those about
// d only) that recs lacks, marked Remembered.
func (m Memory) Recall(d, content string, recs []Signed) []Signed {
	listed := map[string]bool{}
	for _, r := range recs {
		listed[recordName(r.raw, r.Signature)] = true
	}
	for _, key := range []string{d, content} {
		dir, ok := m.dir(key)
		if !ok {
			continue
		}
		for i, name := range kept(dir) {
			if i >= maxKept || listed[name] {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || len(b) > maxRecord*2 {
				continue
			}
			var mm memo
			var rec Record
			if json.Unmarshal(b, &mm) != nil || json.Unmarshal(mm.Record, &rec) != nil || !rec.Covers(d, content) || !rec.Demotion() {
				continue
			}
			listed[name] = true
			recs = append(recs, Signed{Record: rec, Signature: mm.Signature, KeyID: mm.KeyID, Referrer: mm.Referrer, Remembered: true, raw: mm.Record})
		}
	}
	return recs
}

// kept lists the records kept in dir, leaving out the temporary files of
// writes in progress (or of killed writers).
func kept(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), home.TempPrefix) {
			names = append(names, e.Name())
		}
	}
	return names
}

// recordName names a kept record by its signed bytes and signature: the
// same decision signed again with another key (resign) is another record.
func recordName(raw []byte, sig string) string {
	h := sha256.New()
	h.Write(raw)
	h.Write([]byte{0})
	h.Write([]byte(sig))
	return hex.EncodeToString(h.Sum(nil)) + ".json"
}

// dir is where the demotions about digest d are kept; only a well-formed
// digest (from a signed record or a manifest) names a folder.
func (m Memory) dir(d string) (string, bool) {
	dg, err := digest.Parse(d)
	if m.Dir == "" || err != nil {
		return "", false
	}
	return filepath.Join(m.Dir, dg.Algorithm().String(), dg.Encoded()), true
}
