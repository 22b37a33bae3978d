package target

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/contrib"
)

// Layout damage and repair: what `tierpack store check` reads. A layout's
// blobs say which manifests, indexes and referrers exist; the tag journal
// (JournalFile) says which references tierpack gave them; the manifests'
// own annotations say which version they are, for layouts written before
// the journal or by other tools.

// maxScannedManifest bounds a blob read as a possible manifest (a manifest
// or index tierpack reads whole is at most 4 MiB).
const maxScannedManifest = 4 << 20

// Scanned is a manifest or index found among a layout's blobs.
type Scanned struct {
	// Desc is its descriptor: media type, digest, size, artifactType.
	Desc ocispec.Descriptor
	// Subject is what it refers to, for a referrer (a tier record, a
	// signature).
	Subject *ocispec.Descriptor
	// Annotations are the manifest's own.
	Annotations map[string]string
	// Children are an index's manifests.
	Children []digest.Digest
}

// Scan is what a layout holds, read from its blobs and journal without
// trusting its index.json.
type Scan struct {
	// Dir is the layout.
	Dir string
	// Local is set for the embedded local store (references NAME:TAG).
	Local bool
	// Index is index.json when it could be read; IndexErr says why not.
	Index    *ocispec.Index
	IndexErr error
	// Manifests are the manifests and indexes among the blobs, by digest.
	Manifests map[digest.Digest]*Scanned
	// Blobs counts every blob.
	Blobs int
	// Corrupt lists blobs whose content does not match their digest.
	Corrupt []string
	// Journal is the tag journal, oldest first (nil without one).
	Journal []JournalEntry

	storage *oci.Storage
	preds   map[digest.Digest][]ocispec.Descriptor
}

// ScanLayout reads the layout in dir. The caller holds its lock.
func ScanLayout(ctx context.Context, dir string, local bool) (*Scan, error) {
	if _, err := os.Stat(filepath.Join(dir, ocispec.ImageBlobsDir)); err != nil {
		return nil, fmt.Errorf("%s is not an OCI layout: %w", dir, err)
	}
	storage, err := oci.NewStorage(dir)
	if err != nil {
		return nil, err
	}
	s := &Scan{Dir: dir, Local: local, Manifests: map[digest.Digest]*Scanned{}, storage: storage, preds: map[digest.Digest][]ocispec.Descriptor{}}
	s.Index, s.IndexErr = readIndex(dir)
	if s.Journal, err = readJournal(dir); err != nil {
		return nil, fmt.Errorf("reading the tag journal of %s: %w", dir, err)
	}
	root := filepath.Join(dir, ocispec.ImageBlobsDir)
	algs, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	for _, alg := range algs {
		if !alg.IsDir() || !digest.Algorithm(alg.Name()).Available() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(root, alg.Name()))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			d := digest.NewDigestFromEncoded(digest.Algorithm(alg.Name()), f.Name())
			if d.Validate() != nil || !f.Type().IsRegular() {
				continue
			}
			s.Blobs++
			if err := s.scanBlob(filepath.Join(root, alg.Name(), f.Name()), d); err != nil {
				s.Corrupt = append(s.Corrupt, d.String())
			}
		}
	}
	for _, m := range s.Manifests {
		if m.Subject != nil {
			s.preds[m.Subject.Digest] = append(s.preds[m.Subject.Digest], m.Desc)
		}
		for _, c := range m.Children {
			s.preds[c] = append(s.preds[c], m.Desc)
		}
	}
	return s, nil
}

// scanBlob checks a blob against its digest and records it if it is a
// manifest or an index.
func (s *Scan) scanBlob(path string, d digest.Digest) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	v := d.Verifier()
	var head []byte
	if st.Size() <= maxScannedManifest {
		head, err = io.ReadAll(io.TeeReader(f, v))
	} else {
		_, err = io.Copy(v, f)
	}
	if err != nil {
		return err
	}
	if !v.Verified() {
		return errors.New("digest mismatch")
	}
	if len(head) == 0 || head[0] != '{' {
		return nil
	}
	var m struct {
		SchemaVersion int                  `json:"schemaVersion"`
		MediaType     string               `json:"mediaType"`
		ArtifactType  string               `json:"artifactType"`
		Config        *ocispec.Descriptor  `json:"config"`
		Layers        []ocispec.Descriptor `json:"layers"`
		Manifests     []ocispec.Descriptor `json:"manifests"`
		Subject       *ocispec.Descriptor  `json:"subject"`
		Annotations   map[string]string    `json:"annotations"`
	}
	if json.Unmarshal(head, &m) != nil || m.SchemaVersion != 2 || !isManifestType(m.MediaType) {
		return nil
	}
	sc := &Scanned{
		Desc:        ocispec.Descriptor{MediaType: m.MediaType, Digest: d, Size: st.Size(), ArtifactType: m.ArtifactType},
		Subject:     m.Subject,
		Annotations: m.Annotations,
	}
	if sc.Desc.ArtifactType == "" && m.Config != nil && m.Config.MediaType != ocispec.MediaTypeEmptyJSON && m.MediaType == ocispec.MediaTypeImageManifest {
		sc.Desc.ArtifactType = m.Config.MediaType
	}
	for _, c := range m.Manifests {
		sc.Children = append(sc.Children, c.Digest)
	}
	s.Manifests[d] = sc
	return nil
}

// Roots are the manifests and indexes no index lists: what a layout's
// index.json lists (referrers among them), sorted by digest.
func (s *Scan) Roots() []*Scanned {
	child := map[digest.Digest]bool{}
	for _, m := range s.Manifests {
		for _, c := range m.Children {
			child[c] = true
		}
	}
	var out []*Scanned
	for _, d := range slices.Sorted(maps.Keys(s.Manifests)) {
		if !child[d] {
			out = append(out, s.Manifests[d])
		}
	}
	return out
}

// Fetch reads a blob of the layout.
func (s *Scan) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	return s.storage.Fetch(ctx, d)
}

// Exists reports whether the layout holds d.
func (s *Scan) Exists(ctx context.Context, d ocispec.Descriptor) (bool, error) {
	return s.storage.Exists(ctx, d)
}

// Predecessors lists the manifests that refer to node: its referrers and
// the indexes that list it. With Fetch it makes the scan a read-only graph
// for finding tier records without an index.json.
func (s *Scan) Predecessors(_ context.Context, node ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	return s.preds[node.Digest], nil
}

// TagEvidence is what a scan knows about one reference.
type TagEvidence struct {
	// Ref is the reference as the layout's index names it.
	Ref string
	// From is where it comes from: "index", "journal" or "annotations".
	From string
	// Last is the manifest the reference last named (journal, index), if
	// any; it may no longer exist.
	Last *ocispec.Descriptor
	// Candidates are the existing manifests it could name, oldest first.
	Candidates []ocispec.Descriptor
}

// Tags gathers the evidence for every reference, sorted by reference: the
// journal's last word on each (references last untagged are left out);
// failing a journal, the manifests' annotations: dev.tierpack.name and the
// version (NAME:VERSION in the local store, VERSION in an `oci:` layout, as
// contrib.TagFor writes tags). A readable index that lists lost manifests
// has the last word on the tags it holds: it is the newest there is.
func (s *Scan) Tags() []*TagEvidence {
	ev := map[string]*TagEvidence{}
	exists := func(d digest.Digest) bool { _, ok := s.Manifests[d]; return ok }
	for _, e := range s.Journal {
		t := ev[e.Ref]
		if t == nil {
			t = &TagEvidence{Ref: e.Ref, From: "journal"}
			ev[e.Ref] = t
		}
		if e.Untag {
			t.Last = nil
			continue
		}
		d := *e.Desc
		t.Last = &d
		if exists(d.Digest) && !slices.ContainsFunc(t.Candidates, func(c ocispec.Descriptor) bool { return c.Digest == d.Digest }) {
			t.Candidates = append(t.Candidates, d)
		}
	}
	for ref, t := range ev {
		if t.Last == nil {
			delete(ev, ref)
		}
	}
	if s.Journal == nil {
		for _, m := range s.Roots() {
			if m.Subject != nil {
				continue
			}
			version := contrib.TagFor(m.Annotations[ocispec.AnnotationVersion])
			if !sdk.ValidTag(version) {
				continue
			}
			ref := version
			if s.Local {
				name := m.Annotations[sdk.AnnotationName]
				if name == "" {
					continue
				}
				ref = name + ":" + version
			}
			t := ev[ref]
			if t == nil {
				t = &TagEvidence{Ref: ref, From: "annotations"}
				ev[ref] = t
			}
			t.Candidates = append(t.Candidates, m.Desc)
		}
	}
	if s.Index != nil {
		for _, d := range s.Index.Manifests {
			ref := d.Annotations[ocispec.AnnotationRefName]
			if ref == "" {
				continue
			}
			t := &TagEvidence{Ref: ref, From: "index", Last: &d}
			if exists(d.Digest) {
				t.Candidates = []ocispec.Descriptor{d}
			}
			ev[ref] = t
		}
	}
	var out []*TagEvidence
	for _, ref := range slices.Sorted(maps.Keys(ev)) {
		out = append(out, ev[ref])
	}
	return out
}

// AnnotationUnrestored, on a repaired index, lists the references (comma
// separated) the repair could not restore, so a later repair (with more
// trusted keys, say) tries them again.
const AnnotationUnrestored = "dev.tierpack.store.unrestored"

// RebuildIndex writes s's layout a new index.json: every root manifest
// untagged, tags as given (reference → manifest), and the references it
// could not restore in AnnotationUnrestored. The caller holds the layout's
// exclusive lock.
func (s *Scan) RebuildIndex(tags map[string]ocispec.Descriptor, unrestored []string) error {
	idx := emptyIndex()
	if s.Index != nil {
		idx = s.Index
	}
	idx.Annotations = maps.Clone(idx.Annotations)
	delete(idx.Annotations, AnnotationUnrestored)
	if len(unrestored) > 0 {
		if idx.Annotations == nil {
			idx.Annotations = map[string]string{}
		}
		idx.Annotations[AnnotationUnrestored] = strings.Join(unrestored, ",")
	}
	if len(idx.Annotations) == 0 {
		idx.Annotations = nil
	}
	l := &layout{dir: s.Dir, index: *idx, manifests: map[digest.Digest]ocispec.Descriptor{}, tags: map[string]ocispec.Descriptor{}}
	for _, m := range s.Roots() {
		l.manifests[m.Desc.Digest] = m.Desc
	}
	for ref, d := range tags {
		if _, ok := s.Manifests[d.Digest]; !ok {
			return fmt.Errorf("%s: %s: %w", ref, d.Digest, errdef.ErrNotFound)
		}
		l.tags[ref] = d
		l.manifests[d.Digest] = withoutRefName(d)
	}
	if err := ensureLayoutFile(s.Dir); err != nil {
		return err
	}
	return l.save()
}

// LockLayout takes the lock of the layout in dir as opening it does:
// shared for readers, exclusive for writers.
func LockLayout(ctx context.Context, dir string, shared bool) (io.Closer, error) {
	return lockLayout(ctx, dir, shared)
}
