package target

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/oci"

	"github.com/tierpack/tierpack/pkg/home"
	"github.com/tierpack/tierpack/sdk"
)

// An OCI image layout (the embedded local store, or an `oci:` folder) is
// read and written through oras-go's oci.Store, except for its index.json.
// oras-go rewrites that file in place (os.WriteFile: truncate, then
// write), so a writer killed at the wrong moment leaves it empty and every
// tag of the store is lost (oras-go#1301). Here the store runs with
// AutoSaveIndex off and tierpack writes the whole index itself:
//
//   - to a temporary file in the layout, fsynced, renamed over index.json,
//     then the folder fsynced (home.WriteAtomicHook), always while holding
//     the layout's exclusive lock;
//   - from its own model of the index (every manifest the index lists, and
//     the tags), kept beside oras-go's in step with every Push of a manifest,
//     Tag, Untag and Delete, so untagged entries (tier records, signatures:
//     referrers) are never dropped.
//
// Every tag change is also appended, before the index is written, to a
// journal beside it (JournalFile). It is what `tierpack store check
// --repair` restores tags from when index.json is damaged by something
// else: the blobs say which manifests exist, but not which local name a
// user gave them.
//
// A damaged index.json (empty, not JSON, listing blobs that are gone) is
// reported as a *DamagedError naming the store and the command that
// repairs it.

// JournalFile is the tag journal in an OCI layout written by tierpack: one
// JSON object a line, appended (and fsynced) before each index write that
// tags or untags.
const JournalFile = ".tierpack-tags.jsonl"

// journalCompactSize is the size past which a writer opening the layout
// rewrites the journal as the current tags only.
const journalCompactSize = 1 << 20

// IndexPauseEnv names an environment variable read only by tests: "N:FILE"
// makes the N-th index.json write of the process (1-based) stop after its
// temporary file is complete and synced and before the rename, create
// FILE, and sleep, so a test can SIGKILL the writer exactly there.
const IndexPauseEnv = "TIERPACK_TEST_INDEX_PAUSE"

// DamagedError reports an OCI layout whose index.json cannot be read.
type DamagedError struct {
	// Dir is the layout's folder.
	Dir string
	// Local is set for the embedded local store.
	Local bool
	// Err is what is wrong with it.
	Err error
}

func (e *DamagedError) Error() string {
	what := "OCI layout " + e.Dir
	if e.Local {
		what = "the local store (" + e.Dir + ")"
	}
	return fmt.Sprintf("%s is damaged: index.json: %v", what, e.Err)
}

// Unwrap returns the cause.
func (e *DamagedError) Unwrap() error { return e.Err }

// JournalEntry is one line of the tag journal.
type JournalEntry struct {
	// Ref is the reference in the layout's index: TAG, or NAME:TAG in the
	// local store.
	Ref string `json:"ref"`
	// Desc is the manifest tagged; zero for an untag.
	Desc *ocispec.Descriptor `json:"desc,omitempty"`
	// Untag is set when Ref was removed.
	Untag bool      `json:"untag,omitempty"`
	Time  time.Time `json:"time"`
}

// layout is an opened OCI image layout: oras-go's store for blobs, the
// graph and resolution; tierpack's crash-safe index writer.
type layout struct {
	*oci.Store
	dir      string
	local    bool
	readOnly bool

	// mu guards the model and serialises index writes.
	mu sync.Mutex
	// index is index.json as loaded; Manifests is rewritten by save.
	index ocispec.Index
	// manifests holds every manifest the index lists, by digest, as its
	// untagged entry.
	manifests map[digest.Digest]ocispec.Descriptor
	// tags maps each reference to the descriptor it names.
	tags map[string]ocispec.Descriptor
}

// openLayoutStore opens the layout in dir, which the caller has locked
// (exclusive unless readOnly). It creates the layout's files when missing
// (writers only), each atomically.
func openLayoutStore(ctx context.Context, dir string, local, readOnly bool) (*layout, error) {
	l := &layout{dir: dir, local: local, readOnly: readOnly}
	idx, err := readIndex(dir)
	switch {
	case errors.Is(err, os.ErrNotExist) && !readOnly:
		idx = emptyIndex()
		data, _ := json.Marshal(idx)
		if err := home.WriteFileAtomic(filepath.Join(dir, ocispec.ImageIndexFile), data, 0o644); err != nil {
			return nil, fmt.Errorf("creating OCI layout %s: %w", dir, err)
		}
	case err != nil:
		return nil, &DamagedError{Dir: dir, Local: local, Err: err}
	}
	if !readOnly {
		home.RemoveStale(dir, "")
		if err := ensureLayoutFile(dir); err != nil {
			return nil, fmt.Errorf("creating OCI layout %s: %w", dir, err)
		}
	}
	store, err := oci.NewWithContext(ctx, dir)
	if err != nil {
		// The index parsed, so what failed is what it lists (a manifest
		// blob that is gone or unreadable) or the oci-layout file.
		return nil, &DamagedError{Dir: dir, Local: local, Err: err}
	}
	store.AutoSaveIndex = false
	l.Store, l.index = store, *idx
	l.manifests, l.tags = map[digest.Digest]ocispec.Descriptor{}, map[string]ocispec.Descriptor{}
	for _, d := range idx.Manifests {
		l.manifests[d.Digest] = withoutRefName(d)
		if ref := d.Annotations[ocispec.AnnotationRefName]; ref != "" {
			l.tags[ref] = d
		}
	}
	if !readOnly {
		l.compactJournal()
	}
	return l, nil
}

func emptyIndex() *ocispec.Index {
	return &ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
}

// ensureLayoutFile writes the oci-layout file when it is missing.
func ensureLayoutFile(dir string) error {
	path := filepath.Join(dir, ocispec.ImageLayoutFile)
	if _, err := os.Stat(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	data, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	return home.WriteFileAtomic(path, data, 0o644)
}

// readIndex reads and checks dir/index.json. It wraps os.ErrNotExist when
// there is none.
func readIndex(dir string) (*ocispec.Index, error) {
	data, err := os.ReadFile(filepath.Join(dir, ocispec.ImageIndexFile))
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("the file is empty (%d bytes)", len(data))
	}
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("not a JSON image index: %v", err)
	}
	if idx.SchemaVersion != 2 {
		return nil, fmt.Errorf("schemaVersion is %d, not 2", idx.SchemaVersion)
	}
	for i, d := range idx.Manifests {
		if err := d.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("entry %d has an invalid digest %q", i, d.Digest)
		}
	}
	return &idx, nil
}

func withoutRefName(d ocispec.Descriptor) ocispec.Descriptor {
	if _, ok := d.Annotations[ocispec.AnnotationRefName]; !ok {
		return d
	}
	d.Annotations = maps.Clone(d.Annotations)
	delete(d.Annotations, ocispec.AnnotationRefName)
	if len(d.Annotations) == 0 {
		d.Annotations = nil
	}
	return d
}

// isManifestType reports whether a media type is a manifest or an index,
// which the layout's index lists. It is pkg/oci's IsManifest, which this
// package cannot import (pkg/oci imports it).
func isManifestType(mt string) bool {
	switch mt {
	case ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex, sdk.MediaTypeDockerManifest, sdk.MediaTypeDockerManifestList:
		return true
	}
	return false
}

var errReadOnly = errors.New("the OCI layout was opened for reading only")

// Push stores a blob; a manifest is also listed in the index.
func (l *layout) Push(ctx context.Context, expected ocispec.Descriptor, r io.Reader) error {
	if !isManifestType(expected.MediaType) {
		return l.Store.Push(ctx, expected, r)
	}
	if l.readOnly {
		return errReadOnly
	}
	if err := l.Store.Push(ctx, expected, r); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.manifests[expected.Digest]; ok {
		return nil
	}
	l.manifests[expected.Digest] = withoutRefName(expected)
	return l.save()
}

// Tag points ref at desc.
func (l *layout) Tag(ctx context.Context, desc ocispec.Descriptor, ref string) error {
	if l.readOnly {
		return errReadOnly
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.Store.Tag(ctx, desc, ref); err != nil {
		return err
	}
	if _, ok := l.manifests[desc.Digest]; !ok {
		l.manifests[desc.Digest] = withoutRefName(desc)
	}
	if ref != desc.Digest.String() {
		d := withoutRefName(desc)
		if err := l.appendJournal(JournalEntry{Ref: ref, Desc: &d}); err != nil {
			return err
		}
		l.tags[ref] = desc
	}
	return l.save()
}

// Untag removes ref; the manifest stays, untagged.
func (l *layout) Untag(ctx context.Context, ref string) error {
	if l.readOnly {
		return errReadOnly
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.Store.Untag(ctx, ref); err != nil {
		return err
	}
	if err := l.appendJournal(JournalEntry{Ref: ref, Untag: true}); err != nil {
		return err
	}
	delete(l.tags, ref)
	return l.save()
}

// Delete removes target (and, as oras-go does, its referrers and the blobs
// left dangling), then drops from the index whatever no longer exists.
func (l *layout) Delete(ctx context.Context, target ocispec.Descriptor) error {
	if l.readOnly {
		return errReadOnly
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.Store.Delete(ctx, target)
	for dg, d := range l.manifests {
		if ok, xerr := l.Store.Exists(ctx, d); xerr == nil && !ok {
			delete(l.manifests, dg)
		}
	}
	for ref, d := range l.tags {
		if _, ok := l.manifests[d.Digest]; !ok {
			if jerr := l.appendJournal(JournalEntry{Ref: ref, Untag: true}); jerr != nil && err == nil {
				err = jerr
			}
			delete(l.tags, ref)
		}
	}
	if serr := l.save(); err == nil {
		err = serr
	}
	return err
}

// SaveIndex writes the index (safely: see the package notes).
func (l *layout) SaveIndex() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.save()
}

// GC is not offered: oras-go's would run on its own view of the index.
func (l *layout) GC(context.Context) error {
	return errors.New("garbage collection of an OCI layout is not supported by tierpack")
}

// save writes the model as index.json: the tagged entries sorted by
// reference, then every other manifest sorted by digest. l.mu is held.
func (l *layout) save() error {
	manifests := make([]ocispec.Descriptor, 0, len(l.tags)+len(l.manifests))
	tagged := map[digest.Digest]bool{}
	for _, ref := range slices.Sorted(maps.Keys(l.tags)) {
		d := l.tags[ref]
		d.Annotations = maps.Clone(d.Annotations)
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		d.Annotations[ocispec.AnnotationRefName] = ref
		manifests = append(manifests, d)
		tagged[d.Digest] = true
	}
	for _, dg := range slices.Sorted(maps.Keys(l.manifests)) {
		if !tagged[dg] {
			manifests = append(manifests, l.manifests[dg])
		}
	}
	l.index.Manifests = manifests
	data, err := json.Marshal(l.index)
	if err != nil {
		return fmt.Errorf("encoding the index of %s: %w", l.dir, err)
	}
	return writeIndexFile(l.dir, data)
}

// indexWrites counts this process's index writes, for IndexPauseEnv.
var indexWrites atomic.Int64

// writeIndexFile replaces dir/index.json with data atomically: see the
// package notes. The caller holds the layout's exclusive lock.
func writeIndexFile(dir string, data []byte) error {
	n := indexWrites.Add(1)
	path := filepath.Join(dir, ocispec.ImageIndexFile)
	if err := home.WriteAtomicHook(path, 0o644, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}, func(string) { pauseForTest(n) }); err != nil {
		return fmt.Errorf("writing the index of %s: %w", dir, err)
	}
	return nil
}

// pauseForTest implements IndexPauseEnv.
func pauseForTest(n int64) {
	v := os.Getenv(IndexPauseEnv)
	at, file, ok := strings.Cut(v, ":")
	if !ok {
		return
	}
	if want, err := strconv.ParseInt(at, 10, 64); err != nil || want != n {
		return
	}
	_ = os.WriteFile(file, []byte(strconv.Itoa(os.Getpid())), 0o644)
	time.Sleep(time.Minute)
}

// appendJournal appends e to the tag journal and syncs it. A line cut
// short by a kill is ended first, so it spoils only itself. l.mu is held.
func (l *layout) appendJournal(e JournalEntry) error {
	e.Time = time.Now().UTC()
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	path := filepath.Join(l.dir, JournalFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("writing the tag journal of %s: %w", l.dir, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("writing the tag journal of %s: %w", l.dir, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing the tag journal of %s: %w", l.dir, err)
	}
	return nil
}

// compactJournal rewrites a journal grown past journalCompactSize as the
// current tags, from an index that has just been read whole.
func (l *layout) compactJournal() {
	path := filepath.Join(l.dir, JournalFile)
	st, err := os.Stat(path)
	if err != nil || st.Size() < journalCompactSize {
		return
	}
	var buf bytes.Buffer
	now := time.Now().UTC()
	for _, ref := range slices.Sorted(maps.Keys(l.tags)) {
		d := withoutRefName(l.tags[ref])
		line, _ := json.Marshal(JournalEntry{Ref: ref, Desc: &d, Time: now})
		buf.Write(append(line, '\n'))
	}
	_ = home.WriteFileAtomic(path, buf.Bytes(), 0o644)
}

// readJournal reads dir's tag journal, oldest first, skipping lines that
// cannot be read (one cut short by a kill). It returns nil when there is
// none.
func readJournal(dir string) ([]JournalEntry, error) {
	f, err := os.Open(filepath.Join(dir, JournalFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []JournalEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var e JournalEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Ref == "" || (!e.Untag && (e.Desc == nil || e.Desc.Digest.Validate() != nil)) {
			continue
		}
		out = append(out, e)
	}
	return out, sc.Err()
}
