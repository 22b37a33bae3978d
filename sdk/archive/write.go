package archive

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	digest "github.com/opencontainers/go-digest"
)

// Compression is how Write compresses the tar stream.
type Compression string

// Compressions of WriteOptions.Compression.
const (
	// Gzip (the zero value) writes a tar+gzip stream, which every OCI
	// client reads.
	Gzip Compression = ""
	// Zstd writes a tar+zstd stream (media type
	// application/vnd.oci.image.layer.v1.tar+zstd): it decompresses several
	// times faster than gzip and compresses about twice as fast, but older
	// clients (and tierpack before it) cannot read it.
	Zstd Compression = "zstd"
)

// String returns "gzip" or "zstd".
func (c Compression) String() string {
	if c == Gzip {
		return "gzip"
	}
	return string(c)
}

// Format returns the Format an archive written with c is extracted as.
func (c Compression) Format() Format {
	if c == Zstd {
		return FormatZstd
	}
	return FormatGzip
}

// WriteOptions configures Write and WriteTarGz. The zero value is ready to
// use.
type WriteOptions struct {
	// Prefix is a directory inside the archive under which the paths are
	// stored, for example "chart/"; the trailing slash is optional. Its
	// directories are emitted as entries too. It must be relative and must
	// not contain "..". The zero value stores paths at the archive root.
	Prefix string
	// ModTime is the modification time recorded on every entry, truncated
	// to whole seconds. The zero value records the Unix epoch
	// (1970-01-01T00:00:00Z). Pass the SOURCE_DATE_EPOCH of the build to
	// follow the reproducible-builds convention.
	ModTime time.Time
	// Level is the gzip compression level. The zero value selects
	// gzip.BestSpeed, which on typical contributions compresses within a
	// percent of the default level at two to three times the speed; any
	// other level accepted by
	// github.com/klauspost/compress/gzip.NewWriterLevel may be given, such
	// as gzip.BestSpeed (1) to gzip.BestCompression (9). Level 0 (no
	// compression) cannot be selected because it is the zero value.
	// It applies to gzip only.
	Level int
	// Compression is Gzip (the zero value) or Zstd. WriteTarGz ignores
	// it and always writes gzip.
	Compression Compression
}

// Result describes the archive WriteTarGz wrote.
type Result struct {
	// DiffID is the sha256 digest of the uncompressed tar stream.
	DiffID digest.Digest
	// Files is the number of regular files in the archive.
	Files int
	// Size is the total number of bytes of regular-file content
	// (uncompressed, excluding tar headers and padding).
	Size int64
}

// writeEntry is one entry WriteTarGz will emit.
type writeEntry struct {
	rel      string // slash path relative to root, for regular files
	typeflag byte
	mode     int64
	size     int64
	linkname string
}

// WriteTarGz is Write with gzip compression, whatever opts.Compression
// says.
func WriteTarGz(w io.Writer, root string, paths []string, opts WriteOptions) (Result, error) {
	opts.Compression = Gzip
	return Write(w, root, paths, opts)
}

// Write writes the given paths below root to w as a deterministic tar
// stream, compressed as opts.Compression says. Each path is slash-separated and relative to root and
// names a regular file, a symlink or a directory, whose contents are
// included recursively; "." names root itself. The parent directories of
// every path are included as well, but not their other contents.
//
// Paths that are absolute, contain "..", pass through a symlink or name a
// device, socket or named pipe, and symlinks that are absolute or point
// outside root, are refused with an error wrapping ErrUnsafeEntry.
// Overlapping paths are allowed; every entry is written once. An empty list
// gives an archive holding only the Prefix directories. Hard links in the
// tree are stored as independent regular files.
//
// On error, w may have received a partial stream, which must be discarded.
func Write(w io.Writer, root string, paths []string, opts WriteOptions) (Result, error) {
	prefix := ""
	if opts.Prefix != "" {
		clean, reason := cleanName(opts.Prefix)
		if reason != "" {
			return Result{}, fmt.Errorf("%w: WriteOptions.Prefix %q: %s", ErrUnsafeEntry, opts.Prefix, reason)
		}
		if clean != "." {
			prefix = clean
		}
	}
	level := opts.Level
	if level == 0 {
		// Level 1 compresses typical contributions (binaries, text) within
		// a percent of level 6 at two to three times the speed; measured on
		// the bench data (bench/) with klauspost/compress.
		level = gzip.BestSpeed
	}
	if opts.Compression != Gzip && opts.Compression != Zstd {
		return Result{}, fmt.Errorf("archive: WriteOptions.Compression %q is invalid: use archive.Gzip or archive.Zstd", string(opts.Compression))
	}
	if level < gzip.StatelessCompression || level > gzip.BestCompression {
		return Result{}, fmt.Errorf("archive: WriteOptions.Level %d is invalid: use 0 for the default or a level from %d to %d", opts.Level, gzip.StatelessCompression, gzip.BestCompression)
	}
	mtime := time.Unix(0, 0).UTC()
	if !opts.ModTime.IsZero() {
		mtime = time.Unix(opts.ModTime.Unix(), 0).UTC()
	}

	r, err := os.OpenRoot(root)
	if err != nil {
		return Result{}, fmt.Errorf("archive: opening root directory: %w", err)
	}
	defer r.Close()

	c := collector{root: r, entries: map[string]*writeEntry{}}
	if prefix != "" {
		c.addDir(prefix)
	}
	for _, p := range paths {
		if err := c.addPath(p, prefix); err != nil {
			return Result{}, err
		}
	}
	names := make([]string, 0, len(c.entries))
	for name := range c.entries {
		names = append(names, name)
	}
	// Plain byte order puts a directory before its children, because the
	// directory's name is a prefix of theirs.
	slices.Sort(names)

	zw, err := compressor(w, opts.Compression, level)
	if err != nil {
		return Result{}, err
	}
	diff := sha256.New()
	chunks := &chunker{w: zw, buf: make([]byte, 0, 32<<10)}
	tw := tar.NewWriter(io.MultiWriter(chunks, diff))

	var res Result
	for _, name := range names {
		e := c.entries[name]
		hdr := &tar.Header{
			Typeflag: e.typeflag,
			Name:     name,
			Linkname: e.linkname,
			Mode:     e.mode,
			Size:     e.size,
			ModTime:  mtime,
		}
		if e.typeflag == tar.TypeDir {
			hdr.Name += "/"
		}
		hdr.Format = headerFormat(hdr)
		if err := tw.WriteHeader(hdr); err != nil {
			return Result{}, fmt.Errorf("archive: writing header for %q: %w", name, err)
		}
		if e.typeflag != tar.TypeReg {
			continue
		}
		if err := copyFile(tw, r, e); err != nil {
			return Result{}, err
		}
		res.Files++
		res.Size += e.size
	}
	if err := tw.Close(); err != nil {
		return Result{}, fmt.Errorf("archive: finishing tar stream: %w", err)
	}
	if err := chunks.flush(); err != nil {
		return Result{}, fmt.Errorf("archive: writing %s stream: %w", opts.Compression, err)
	}
	if err := zw.Close(); err != nil {
		return Result{}, fmt.Errorf("archive: finishing %s stream: %w", opts.Compression, err)
	}
	res.DiffID = digest.NewDigest(digest.SHA256, diff)
	return res, nil
}

// compressor returns the writer that compresses into w.
func compressor(w io.Writer, c Compression, level int) (io.WriteCloser, error) {
	if c == Zstd {
		// The fastest level compresses the bench's half-compressible data
		// as well as the default one at two thirds of the time. The output
		// depends on the bytes, the options and the library's version,
		// never on scheduling or the number of cores (blocks are encoded
		// ahead on another goroutine, in order; TestZstdSameOnEveryMachine),
		// so archives stay reproducible. The frame carries its content
		// checksum. (Concurrent blocks, the library's parallel sections,
		// compressed 100 MiB a third faster but made no difference to a
		// push, which waits on the registry; they would also need a fixed
		// worker count to give the same bytes on a one-core machine.)
		zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(true))
		if err != nil {
			return nil, fmt.Errorf("archive: creating zstd writer: %w", err)
		}
		return zw, nil
	}
	// pgzip compresses 1 MiB blocks on every core. Its output depends only
	// on the bytes, the level and the block size, never on scheduling or
	// the number of cores, so archives stay reproducible.
	gz, err := pgzip.NewWriterLevel(w, level)
	if err != nil {
		return nil, fmt.Errorf("archive: creating gzip writer: %w", err)
	}
	if err := gz.SetConcurrency(1<<20, 2*runtime.GOMAXPROCS(0)); err != nil {
		return nil, fmt.Errorf("archive: creating gzip writer: %w", err)
	}
	gz.Name, gz.Comment, gz.Extra = "", "", nil
	gz.ModTime = time.Unix(0, 0) // pgzip writes the zero Time as a nonsense date; 0 means "none"
	gz.OS = 255                  // unknown
	return gz, nil
}

// CheckTree checks the given paths below root as WriteTarGz does, without
// reading file contents or writing anything: it returns the error
// WriteTarGz would return for an unsafe path, an escaping or absolute
// symlink, or a device, socket or named pipe (wrapping ErrUnsafeEntry), and
// otherwise the entries and regular-file bytes the archive would hold, as
// the Budget an extraction of it would spend (its Limits are zero).
func CheckTree(root string, paths []string) (Budget, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return Budget{}, fmt.Errorf("archive: opening root directory: %w", err)
	}
	defer r.Close()
	c := collector{root: r, entries: map[string]*writeEntry{}}
	for _, p := range paths {
		if err := c.addPath(p, ""); err != nil {
			return Budget{}, err
		}
	}
	var b Budget
	for _, e := range c.entries {
		b.Entries++
		if e.typeflag == tar.TypeReg {
			b.Size += e.size
		}
	}
	return b, nil
}

// headerFormat returns tar.FormatUSTAR if hdr can be written in that format
// and tar.FormatPAX otherwise. The choice depends only on the header.
func headerFormat(hdr *tar.Header) tar.Format {
	probe := *hdr
	probe.Format = tar.FormatUSTAR
	// The probe writer is discarded, so the missing file body is irrelevant.
	if tar.NewWriter(io.Discard).WriteHeader(&probe) == nil {
		return tar.FormatUSTAR
	}
	return tar.FormatPAX
}

// chunker passes the bytes written to it on to w in blocks of cap(buf)
// bytes, so that the compressor sees the same sequence of Write calls for
// the same tar stream however the writes producing it were split (for
// example by short reads from a file).
type chunker struct {
	w   io.Writer
	buf []byte
}

// Write implements io.Writer.
func (c *chunker) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), cap(c.buf)-len(c.buf))
		c.buf = append(c.buf, p[:k]...)
		p = p[k:]
		if len(c.buf) == cap(c.buf) {
			if err := c.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// flush writes the buffered bytes to w.
func (c *chunker) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.w.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

// copyFile copies the content of the regular file e to tw, failing if the
// file changed size since it was inspected.
func copyFile(tw io.Writer, r *os.Root, e *writeEntry) error {
	f, err := r.Open(filepath.FromSlash(e.rel))
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return fmt.Errorf("archive: %w", err)
	} else if !fi.Mode().IsRegular() {
		return fmt.Errorf("archive: %q was replaced while it was being archived; retry once the tree is no longer being modified", e.rel)
	}
	n, err := io.CopyN(tw, f, e.size)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("archive: archiving %q: %w", e.rel, err)
	}
	var one [1]byte
	if extra, _ := f.Read(one[:]); n != e.size || extra != 0 {
		return fmt.Errorf("archive: %q changed size while it was being archived; retry once the tree is no longer being modified", e.rel)
	}
	return nil
}

// collector gathers the entries WriteTarGz emits, keyed by archive name.
type collector struct {
	root    *os.Root
	entries map[string]*writeEntry
}

// addDir records the directory name and its parents as directory entries.
func (c *collector) addDir(name string) {
	for name != "." {
		if _, ok := c.entries[name]; ok {
			return // its parents were recorded with it
		}
		c.entries[name] = &writeEntry{typeflag: tar.TypeDir, mode: 0o755}
		name = path.Dir(name)
	}
}

// addPath records p, a path given to WriteTarGz, and everything below it.
func (c *collector) addPath(p, prefix string) error {
	rel, reason := cleanName(p)
	if reason != "" {
		return fmt.Errorf("%w: path %q: %s; paths must be relative to the root and stay inside it", ErrUnsafeEntry, p, reason)
	}
	// Every parent must be a real directory: a path through a symlink would
	// be refused by Extract, and could lead outside root.
	for i := range len(rel) {
		if rel[i] != '/' {
			continue
		}
		dir := rel[:i]
		fi, err := c.root.Lstat(filepath.FromSlash(dir))
		if err != nil {
			return fmt.Errorf("archive: path %q: %w", p, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%w: path %q: it passes through the symlink %q; name the symlink or its target instead", ErrUnsafeEntry, p, dir)
		}
		if !fi.IsDir() {
			return fmt.Errorf("archive: path %q: %q is not a directory", p, dir)
		}
	}
	fi, err := c.root.Lstat(filepath.FromSlash(rel))
	if err != nil {
		return fmt.Errorf("archive: path %q: %w", p, err)
	}
	if !fi.IsDir() {
		return c.addFile(rel, fi, prefix)
	}
	return fs.WalkDir(c.root.FS(), rel, func(walked string, _ fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("archive: walking %q: %w", p, err)
		}
		fi, err := c.root.Lstat(filepath.FromSlash(walked))
		if err != nil {
			return fmt.Errorf("archive: walking %q: %w", p, err)
		}
		return c.addFile(walked, fi, prefix)
	})
}

// addFile records the single file, directory or symlink at rel.
func (c *collector) addFile(rel string, fi fs.FileInfo, prefix string) error {
	if _, reason := cleanName(rel); reason != "" {
		return fmt.Errorf("%w: %q: %s; rename it to archive it", ErrUnsafeEntry, rel, reason)
	}
	name := rel
	if prefix != "" {
		name = path.Join(prefix, rel)
	}
	if name == "." {
		return nil // the root itself has no entry
	}
	c.addDir(path.Dir(name))
	mode := fi.Mode()
	e := &writeEntry{rel: rel}
	switch {
	case mode.IsRegular():
		e.typeflag, e.size, e.mode = tar.TypeReg, fi.Size(), 0o644
		if mode.Perm()&0o111 != 0 {
			e.mode = 0o755
		}
	case mode.IsDir():
		e.typeflag, e.mode = tar.TypeDir, 0o755
	case mode&fs.ModeSymlink != 0:
		target, err := c.root.Readlink(filepath.FromSlash(rel))
		if err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		clean, reason := cleanLinkTarget(rel, filepath.ToSlash(target))
		if reason != "" {
			return fmt.Errorf("%w: symlink %q: %s", ErrUnsafeEntry, rel, reason)
		}
		e.typeflag, e.linkname, e.mode = tar.TypeSymlink, clean, 0o777
	default:
		return fmt.Errorf("%w: %q is a %s; only regular files, directories and symlinks can be archived", ErrUnsafeEntry, rel, DescribeMode(mode))
	}
	c.entries[name] = e
	return nil
}

// DescribeMode names the file type of a special file, for error messages.
func DescribeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file (" + strings.TrimSpace(m.Type().String()) + ")"
}
