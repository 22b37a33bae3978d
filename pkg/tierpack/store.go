package tierpack

import (
	"context"
	"errors"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/trust"
	"github.com/tierpack/tierpack/sdk"
)

// StoreCheckRequest asks for a check (and optionally a repair) of an OCI
// layout: the embedded local store, or an `oci:PATH` folder.
type StoreCheckRequest struct {
	// Layout is "oci:PATH"; empty means the local store.
	Layout string
	// Repair rebuilds a damaged index.json from the blobs.
	Repair bool
	// KeyFiles are more trusted public keys, for choosing between manifests
	// that could hold one tag.
	KeyFiles []string
}

// StoreCheckResult is what a check found and, with Repair, what it did.
type StoreCheckResult struct {
	Store string `json:"store"`
	// Sound is true when index.json reads and every manifest it lists is
	// there.
	Sound bool `json:"sound"`
	// Problem says what is wrong when it is not.
	Problem  string `json:"problem,omitempty"`
	Repaired bool   `json:"repaired"`
	// Blobs, Manifests (and indexes) and Referrers (tier records,
	// signatures) are counted among the blobs.
	Blobs     int `json:"blobs"`
	Manifests int `json:"manifests"`
	Referrers int `json:"referrers"`
	// Tags are the tags the index holds (sound), or would hold after a
	// repair, or holds after it.
	Tags []StoreTag `json:"tags"`
	// Unrestored are tags a repair cannot restore, with the reason.
	Unrestored []StoreTag `json:"unrestored,omitempty"`
	// Untagged lists manifests (not referrers) that no evidence tags:
	// kept, untagged, reachable by digest.
	Untagged []string `json:"untagged,omitempty"`
	// Corrupt lists blobs whose content does not match their digest.
	Corrupt []string `json:"corruptBlobs,omitempty"`
}

// StoreTag is one tag of a checked store.
type StoreTag struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest,omitempty"`
	// From is the evidence: index, journal, annotations, or
	// annotations+record (a trusted tier record chose among several).
	From   string `json:"from,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// StoreCheck checks an OCI layout's index.json against its blobs and, with
// Repair, rebuilds a damaged one. It holds the layout's exclusive lock
// throughout, so no tierpack writer runs meanwhile.
//
// A repair lists every manifest and index found among the blobs that no
// index lists (referrers included, so tier records and signatures stay
// findable), and restores a tag only on unambiguous evidence:
//
//   - the tag journal tierpack keeps beside index.json: the manifest the
//     tag last named, if it is still there. If it is gone, no older
//     manifest the tag once named is restored in its place: that would
//     roll the tag back.
//   - without a journal (a layout written by another tool or an older
//     tierpack), the manifests' name and version annotations. Where several
//     manifests claim one tag (a promotion or demotion writes a new
//     manifest of the same version), the tag goes to the one the latest
//     trusted tier record about any of them names; if no trusted record
//     decides, the tag is not restored.
//
// Everything not restored is listed with the reason.
func (c *Client) StoreCheck(ctx context.Context, req StoreCheckRequest) (*StoreCheckResult, error) {
	dir, local, err := c.layoutDir(req.Layout)
	if err != nil {
		return nil, err
	}
	lock, err := target.LockLayout(ctx, dir, !req.Repair)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	scan, err := target.ScanLayout(ctx, dir, local)
	if err != nil {
		return nil, err
	}
	res := &StoreCheckResult{Store: dir, Blobs: scan.Blobs, Corrupt: scan.Corrupt, Manifests: len(scan.Manifests)}
	for _, m := range scan.Roots() {
		if m.Subject != nil {
			res.Referrers++
		}
	}
	res.Sound, res.Problem = soundness(scan)
	var tags map[string]ocispec.Descriptor
	if res.Sound {
		tags = map[string]ocispec.Descriptor{}
		for _, d := range scan.Index.Manifests {
			if ref := d.Annotations[ocispec.AnnotationRefName]; ref != "" {
				tags[ref] = d
				res.Tags = append(res.Tags, StoreTag{Ref: ref, Digest: d.Digest.String(), From: "index"})
			}
		}
	} else {
		gate, err := c.gate(req.KeyFiles)
		if err != nil {
			return nil, err
		}
		tags = c.restoreTags(ctx, scan, gate, res)
	}
	tagged := map[string]bool{}
	for _, d := range tags {
		tagged[d.Digest.String()] = true
	}
	for _, m := range scan.Roots() {
		if m.Subject == nil && !tagged[m.Desc.Digest.String()] {
			name := m.Desc.Digest.String()
			if n, v := m.Annotations[sdk.AnnotationName], m.Annotations[ocispec.AnnotationVersion]; n != "" || v != "" {
				name += " (" + strings.Trim(n+" "+v, " ") + ")"
			}
			res.Untagged = append(res.Untagged, name)
		}
	}
	if res.Sound || !req.Repair {
		return res, nil
	}
	var unrestored []string
	for _, u := range res.Unrestored {
		unrestored = append(unrestored, u.Ref)
	}
	if err := scan.RebuildIndex(tags, unrestored); err != nil {
		return nil, fmt.Errorf("repairing %s: %w", dir, err)
	}
	res.Repaired = true
	return res, nil
}

// ErrDamaged is returned by StoreCheckResult.Damaged for a store found
// damaged and left as it was (no repair asked for).
var ErrDamaged = errors.New("the store is damaged and was left as it was")

// Damaged returns ErrDamaged when the check found damage it did not
// repair, else nil: for exit codes.
func (r *StoreCheckResult) Damaged() error {
	if r == nil || r.Sound || r.Repaired {
		return nil
	}
	return ErrDamaged
}

// layoutDir is the folder of the local store, or of an oci:PATH layout.
func (c *Client) layoutDir(s string) (dir string, local bool, err error) {
	if s == "" {
		h, err := c.home()
		if err != nil {
			return "", false, err
		}
		return h.Store(), true, nil
	}
	ref, err := parseRef(s)
	if err != nil {
		return "", false, err
	}
	if ref.Kind != target.Layout {
		return "", false, usagef("store check takes the local store (no argument) or an OCI layout (oci:PATH), not %s", s)
	}
	return ref.Path, false, nil
}

// soundness says whether the scanned layout's index reads and lists only
// manifests that are there.
func soundness(s *target.Scan) (bool, string) {
	if s.IndexErr != nil {
		return false, "index.json: " + s.IndexErr.Error()
	}
	var missing []string
	for _, d := range s.Index.Manifests {
		if _, ok := s.Manifests[d.Digest]; !ok {
			missing = append(missing, d.Digest.String())
		}
	}
	if len(missing) > 0 {
		return false, fmt.Sprintf("index.json lists %d manifest(s) that are not among the blobs: %s", len(missing), strings.Join(missing, ", "))
	}
	if u := s.Index.Annotations[target.AnnotationUnrestored]; u != "" {
		return false, "an earlier repair could not restore " + u
	}
	return true, ""
}

// restoreTags decides every tag a repair restores (see StoreCheck) and
// records the decisions in res.
func (c *Client) restoreTags(ctx context.Context, scan *target.Scan, gate trust.Gate, res *StoreCheckResult) map[string]ocispec.Descriptor {
	evidence := scan.Tags()
	tags := map[string]ocispec.Descriptor{}
	restore := func(e *target.TagEvidence, d ocispec.Descriptor, from string) {
		tags[e.Ref] = d
		res.Tags = append(res.Tags, StoreTag{Ref: e.Ref, Digest: d.Digest.String(), From: from})
	}
	refuse := func(e *target.TagEvidence, reason string) {
		st := StoreTag{Ref: e.Ref, From: e.From, Reason: reason}
		if e.Last != nil {
			st.Digest = e.Last.Digest.String()
		}
		res.Unrestored = append(res.Unrestored, st)
	}
	for _, e := range evidence {
		if e.From != "annotations" {
			if _, ok := scan.Manifests[e.Last.Digest]; ok {
				restore(e, *e.Last, e.From)
				continue
			}
			reason := "the manifest it last named is not among the blobs"
			if len(e.Candidates) > 0 {
				reason += fmt.Sprintf("; the %d older manifest(s) it named are not restored in its place: that would roll it back", len(e.Candidates))
			}
			refuse(e, reason)
			continue
		}
		if len(e.Candidates) == 1 {
			restore(e, e.Candidates[0], e.From)
			continue
		}
		if d, ok := latestTrusted(ctx, scan, gate, e.Candidates); ok {
			restore(e, d, "annotations+record")
			continue
		}
		refuse(e, fmt.Sprintf("%d manifests claim it and no trusted tier record says which is current (trust the signing key, then repair again)", len(e.Candidates)))
	}
	return tags
}

// latestTrusted returns the candidate that the latest trusted tier record
// about any of the candidates names as its subject.
func latestTrusted(ctx context.Context, scan *target.Scan, gate trust.Gate, cands []ocispec.Descriptor) (ocispec.Descriptor, bool) {
	var best *promotion.Signed
	for _, c := range cands {
		recs, err := promotion.List(ctx, scan, c)
		if err != nil || len(recs) == 0 {
			continue
		}
		if r, err := promotion.Latest(recs, c.Digest.String(), "", gate.KeysFor); err == nil && (best == nil || r.After(best.Record)) {
			best = r
		}
	}
	if best == nil {
		return ocispec.Descriptor{}, false
	}
	for _, c := range cands {
		if c.Digest.String() == best.Subject {
			return c, true
		}
	}
	return ocispec.Descriptor{}, false
}
