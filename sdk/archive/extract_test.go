package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExtractRefusesHostileArchives(t *testing.T) {
	small := Limits{MaxFileSize: 64, MaxTotalSize: 100, MaxEntries: 5}
	tests := []struct {
		name    string
		entries []entry
		limits  Limits
		want    error
		// wantMsg is a substring the error must contain (besides the sentinel).
		wantMsg string
	}{
		// Path traversal.
		{name: "dotdot", entries: []entry{reg("../x", "evil", 0o644)}, want: ErrUnsafeEntry, wantMsg: `".."`},
		{name: "dotdot to sibling", entries: []entry{reg("../outside/x", "evil", 0o644)}, want: ErrUnsafeEntry},
		{name: "dotdot inside", entries: []entry{reg("a/../../x", "evil", 0o644)}, want: ErrUnsafeEntry},
		{name: "harmless-looking dotdot", entries: []entry{reg("a/../b", "x", 0o644)}, want: ErrUnsafeEntry},
		{name: "dotdot dir", entries: []entry{dir("../outside/d/", 0o755)}, want: ErrUnsafeEntry},
		{name: "absolute", entries: []entry{reg("/abs-tierpack-archive-test", "evil", 0o644)}, want: ErrUnsafeEntry, wantMsg: "absolute"},
		{name: "windows drive", entries: []entry{reg("C:/x", "evil", 0o644)}, want: ErrUnsafeEntry, wantMsg: "drive"},
		{name: "windows drive relative", entries: []entry{reg("c:x", "evil", 0o644)}, want: ErrUnsafeEntry, wantMsg: "drive"},
		{name: "windows backslash traversal", entries: []entry{reg(`a\..\..\x`, "evil", 0o644)}, want: ErrUnsafeEntry, wantMsg: "backslash"},
		{name: "windows UNC", entries: []entry{reg(`\\server\share\x`, "evil", 0o644)}, want: ErrUnsafeEntry},
		{name: "file named dot", entries: []entry{reg(".", "x", 0o644)}, want: ErrUnsafeEntry},

		// Symlinks.
		{
			name:    "absolute symlink then write through it",
			entries: []entry{symlink("a", "/etc"), reg("a/passwd", "root::0:0::/:/bin/sh\n", 0o644)},
			want:    ErrUnsafeEntry, wantMsg: "absolute",
		},
		{
			name:    "symlink to sibling then write through it",
			entries: []entry{symlink("a", "../outside"), reg("a/x", "evil", 0o644)},
			want:    ErrUnsafeEntry, wantMsg: "outside",
		},
		{
			name:    "local symlink then write through it",
			entries: []entry{dir("sub/", 0o755), symlink("a", "sub"), reg("a/passwd", "x", 0o644)},
			want:    ErrUnsafeEntry, wantMsg: `passes through "a"`,
		},
		{
			name:    "local symlink then directory through it",
			entries: []entry{dir("sub/", 0o755), symlink("a", "sub"), dir("a/b/", 0o755)},
			want:    ErrUnsafeEntry, wantMsg: `passes through "a"`,
		},
		{
			name:    "local symlink replaced by directory",
			entries: []entry{dir("sub/", 0o755), symlink("a", "sub"), dir("a/", 0o755)},
			want:    ErrUnsafeEntry, wantMsg: "not a directory",
		},
		{
			name:    "symlink escaping by depth",
			entries: []entry{symlink("d/e/l", "../../../outside")},
			want:    ErrUnsafeEntry, wantMsg: "outside",
		},
		{
			name:    "symlink escaping through another symlink",
			entries: []entry{symlink("s", "."), symlink("l", "s/../outside")},
			want:    ErrUnsafeEntry, wantMsg: `".." after a normal component`,
		},
		{name: "symlink with empty target", entries: []entry{symlink("l", "")}, want: ErrUnsafeEntry},
		{name: "symlink to windows drive", entries: []entry{symlink("l", "C:/Windows")}, want: ErrUnsafeEntry},

		// Hard links.
		{name: "hardlink outside", entries: []entry{hardlink("h", "../outside/x")}, want: ErrUnsafeEntry},
		{name: "hardlink absolute", entries: []entry{hardlink("h", "/etc/passwd")}, want: ErrUnsafeEntry},
		{name: "hardlink to missing file", entries: []entry{hardlink("h", "nothing")}, want: ErrUnsafeEntry, wantMsg: "not a regular file extracted earlier"},
		{name: "hardlink to directory", entries: []entry{dir("d/", 0o755), hardlink("h", "d")}, want: ErrUnsafeEntry},
		{name: "hardlink to symlink", entries: []entry{symlink("l", "x"), hardlink("h", "l")}, want: ErrUnsafeEntry},
		{name: "hardlink through symlink", entries: []entry{reg("d/f", "x", 0o644), symlink("l", "d"), hardlink("h", "l/f")}, want: ErrUnsafeEntry},
		{name: "hardlink overwriting file", entries: []entry{reg("f", "x", 0o644), reg("g", "y", 0o644), hardlink("g", "f")}, want: ErrUnsafeEntry, wantMsg: "already exists"},

		// Special files.
		{name: "char device", entries: []entry{special("null", tar.TypeChar)}, want: ErrUnsafeEntry, wantMsg: "character device"},
		{name: "block device", entries: []entry{special("sda", tar.TypeBlock)}, want: ErrUnsafeEntry, wantMsg: "block device"},
		{name: "fifo", entries: []entry{special("pipe", tar.TypeFifo)}, want: ErrUnsafeEntry, wantMsg: "named pipe"},
		{name: "unknown type", entries: []entry{special("z", 'Z')}, want: ErrUnsafeEntry, wantMsg: "unsupported entry type"},
		{name: "contiguous file", entries: []entry{special("c", tar.TypeCont)}, want: ErrUnsafeEntry},

		// Duplicates.
		{name: "duplicate file", entries: []entry{reg("f", "first", 0o644), reg("f", "second", 0o644)}, want: ErrUnsafeEntry, wantMsg: "already exists"},
		{name: "file over symlink", entries: []entry{symlink("f", "g"), reg("f", "x", 0o644)}, want: ErrUnsafeEntry, wantMsg: "already exists"},
		{name: "file over directory", entries: []entry{dir("d/", 0o755), reg("d", "x", 0o644)}, want: ErrUnsafeEntry},
		{name: "symlink over file", entries: []entry{reg("f", "x", 0o644), symlink("f", "g")}, want: ErrUnsafeEntry},
		{name: "file below file", entries: []entry{reg("f", "x", 0o644), reg("f/g", "y", 0o644)}, want: ErrUnsafeEntry, wantMsg: "not a directory"},

		// Limits.
		{
			name:    "lying header declares a huge file",
			entries: []entry{{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "big", Mode: 0o644, Size: 1 << 40}, body: "tiny"}},
			want:    ErrTooLarge, wantMsg: "MaxFileSize",
		},
		{
			name:    "file over MaxFileSize",
			entries: []entry{reg("big", strings.Repeat("x", 65), 0o644)},
			limits:  small, want: ErrTooLarge, wantMsg: "64 bytes limit on one file (Limits.MaxFileSize)",
		},
		{
			name:    "total over MaxTotalSize",
			entries: []entry{reg("a", strings.Repeat("x", 60), 0o644), reg("b", strings.Repeat("x", 41), 0o644)},
			limits:  small, want: ErrTooLarge, wantMsg: "100 bytes limit on the total size (Limits.MaxTotalSize",
		},
		{
			name:    "too many entries",
			entries: []entry{dir("a/", 0o755), dir("b/", 0o755), dir("c/", 0o755), dir("d/", 0o755), dir("e/", 0o755), dir("f/", 0o755)},
			limits:  small, want: ErrTooLarge, wantMsg: "more than 5 entries",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := makeTar(t, tt.entries...)
			for _, compressed := range []bool{false, true} {
				s := newSandbox(t, t.TempDir())
				in := raw
				if compressed {
					in = gzipBytes(t, raw)
				}
				err := Extract(context.Background(), bytes.NewReader(in), s.dest, tt.limits)
				if !errors.Is(err, tt.want) {
					t.Fatalf("compressed=%v: Extract() error = %v, want %v", compressed, err, tt.want)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("compressed=%v: error %q does not mention %q", compressed, err, tt.wantMsg)
				}
				if compressed {
					t.Log(err)
				}
				s.checkConfined(t)
			}
			if _, err := os.Lstat("/abs-tierpack-archive-test"); err == nil {
				t.Fatal("an absolute path was written")
			}
		})
	}
}

func TestExtractDuplicateKeepsFirst(t *testing.T) {
	s := newSandbox(t, t.TempDir())
	raw := makeTar(t, reg("f", "first", 0o644), reg("f", "second", 0o644))
	err := Extract(context.Background(), bytes.NewReader(raw), s.dest, Limits{})
	if !errors.Is(err, ErrUnsafeEntry) {
		t.Fatalf("Extract() error = %v, want ErrUnsafeEntry", err)
	}
	got, err := os.ReadFile(filepath.Join(s.dest, "f"))
	if err != nil || string(got) != "first" {
		t.Fatalf("f = %q, %v; want the first entry's content", got, err)
	}
}

func TestExtractExistingSymlinkInDest(t *testing.T) {
	// A symlink that already exists in dest must not be followed either.
	s := newSandbox(t, t.TempDir())
	if err := os.Symlink("../outside", filepath.Join(s.dest, "a")); err != nil {
		t.Fatal(err)
	}
	raw := makeTar(t, reg("a/x", "evil", 0o644))
	err := Extract(context.Background(), bytes.NewReader(raw), s.dest, Limits{})
	if !errors.Is(err, ErrUnsafeEntry) {
		t.Fatalf("Extract() error = %v, want ErrUnsafeEntry", err)
	}
	if out, _ := os.ReadDir(s.outside); len(out) != 0 {
		t.Fatal("a file was written through an existing symlink")
	}
}

func TestExtractLyingReaderIsCaughtWhileCopying(t *testing.T) {
	// tar.Reader never returns more than the declared size, but the copy
	// must not rely on that: feed copyContent a reader that lies.
	x := &extractor{ctx: context.Background(), budget: &Budget{}, limits: Limits{MaxFileSize: 10, MaxTotalSize: 100}.WithDefaults()}
	err := x.copyContent(io.Discard, strings.NewReader(strings.Repeat("x", 1000)), "f", 5)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "more than 10 bytes") || limitOf(err) != "MaxFileSize" {
		t.Fatalf("copyContent() error = %v, want ErrTooLarge for MaxFileSize", err)
	}

	x = &extractor{ctx: context.Background(), budget: &Budget{Size: 95}, limits: Limits{MaxFileSize: 100, MaxTotalSize: 100}}
	err = x.copyContent(io.Discard, strings.NewReader(strings.Repeat("x", 50)), "f", 5)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "past the 100 bytes limit on the total size") || limitOf(err) != "MaxTotalSize" {
		t.Fatalf("copyContent() error = %v, want ErrTooLarge for MaxTotalSize", err)
	}

	x = &extractor{ctx: context.Background(), budget: &Budget{}, limits: Limits{MaxFileSize: 100, MaxTotalSize: 100}}
	err = x.copyContent(io.Discard, strings.NewReader("abc"), "f", 5)
	if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTooLarge) {
		t.Fatalf("copyContent() error = %v, want a short-content error", err)
	}
}

func TestExtractStripsSpecialBitsAndRestoresModes(t *testing.T) {
	s := newSandbox(t, t.TempDir())
	raw := makeTar(t,
		dir("d/", 0o2775|0o1000),
		reg("d/suid", "x", 0o4755),
		reg("d/ro", "x", 0o444),
		reg("d/private", "x", 0o600),
		dir("locked/", 0o500),
		reg("implied/f", "x", 0o644),
	)
	if err := Extract(context.Background(), bytes.NewReader(raw), s.dest, Limits{}); err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{
		"d":         fs.ModeDir | 0o755, // no group write
		"d/suid":    0o755,
		"d/ro":      0o444,
		"d/private": 0o600,
		"locked":    fs.ModeDir | 0o700, // owner rwx is always kept
		"implied":   fs.ModeDir | 0o755,
		"implied/f": 0o644,
	}
	for name, mode := range want {
		fi, err := os.Lstat(filepath.Join(s.dest, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), mode)
		}
	}
}

func TestExtractAcceptsOrdinaryArchives(t *testing.T) {
	raw := makeTar(t,
		entry{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "abc"}}},
		dir("./", 0o755),
		dir("./d/", 0o755),
		dir("./d/", 0o750), // repeated directory entries are fine
		reg("./d/f", "hello", 0o644),
		hardlink("./d/h", "d/f"),
		symlink("./d/up", "../top"),
		symlink("./d/self", "."),
		symlink("./d/dangling", "missing/file"),
		reg("top", "top", 0o644),
		reg("a//b", "double slash", 0o644),
	)
	for _, compressed := range []bool{false, true} {
		s := newSandbox(t, t.TempDir())
		in := raw
		if compressed {
			in = gzipBytes(t, raw)
		}
		if err := Extract(context.Background(), bytes.NewReader(in), s.dest, Limits{}); err != nil {
			t.Fatalf("compressed=%v: %v", compressed, err)
		}
		s.checkConfined(t)
		for name, want := range map[string]string{"d/f": "hello", "d/h": "hello", "d/up": "top", "a/b": "double slash"} {
			got, err := os.ReadFile(filepath.Join(s.dest, name))
			if err != nil || string(got) != want {
				t.Errorf("%s = %q, %v; want %q", name, got, err, want)
			}
		}
		if fi, err := os.Stat(filepath.Join(s.dest, "d")); err != nil || fi.Mode().Perm() != 0o750 {
			t.Errorf("d: %v, %v; want mode 0750 from the last entry", fi, err)
		}
	}
}

func TestExtractEmptyInput(t *testing.T) {
	s := newSandbox(t, t.TempDir())
	if err := Extract(context.Background(), bytes.NewReader(nil), s.dest, Limits{}); err != nil {
		t.Fatalf("Extract(empty) = %v", err)
	}
}

func TestExtractBadInput(t *testing.T) {
	for name, in := range map[string][]byte{
		"garbage":         bytes.Repeat([]byte("not a tar archive "), 64),
		"zstd":            {0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0},
		"truncated gzip":  gzipBytes(t, makeTar(t, reg("f", "hello", 0o644)))[:30],
		"truncated tar":   makeTar(t, reg("f", strings.Repeat("x", 1000), 0o644))[:1000],
		"corrupt gzip":    corruptTrailer(gzipBytes(t, makeTar(t, reg("f", "hello", 0o644)))),
		"trailing gzip":   gzipBytes(t, append(makeTar(t, reg("f", "x", 0o644)), make([]byte, maxTrailingGzip+1)...)),
		"missing dest":    nil, // handled below
		"lying then next": append(makeTar(t, entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "f", Size: 600}, body: "short"}), make([]byte, 1024)...),
	} {
		t.Run(name, func(t *testing.T) {
			s := newSandbox(t, t.TempDir())
			dest := s.dest
			if name == "missing dest" {
				dest = filepath.Join(s.dest, "missing")
			}
			err := Extract(context.Background(), bytes.NewReader(in), dest, Limits{})
			if err == nil {
				t.Fatal("Extract() succeeded, want an error")
			}
			if errors.Is(err, ErrUnsafeEntry) || errors.Is(err, ErrTooLarge) {
				t.Fatalf("Extract() error = %v, want a plain error", err)
			}
			if name != "missing dest" && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Extract() error = %v, want ErrCorrupt", err)
			}
			s.checkConfined(t)
		})
	}
}

// corruptTrailer flips a bit of the gzip CRC, which is only checked at the
// end of the stream.
func corruptTrailer(b []byte) []byte {
	b = bytes.Clone(b)
	b[len(b)-8] ^= 1
	return b
}

func TestExtractHonoursCancellation(t *testing.T) {
	s := newSandbox(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	raw := makeTar(t, reg("f", "x", 0o644))
	err := Extract(ctx, bytes.NewReader(raw), s.dest, Limits{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Extract() error = %v, want context.Canceled", err)
	}
	if _, err := os.Lstat(filepath.Join(s.dest, "f")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("f was extracted after cancellation: %v", err)
	}
}

func TestExtractCancellationBetweenEntries(t *testing.T) {
	s := newSandbox(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	raw := makeTar(t, reg("a", "x", 0o644), reg("b", "y", 0o644))
	r := &cancelAfter{r: bytes.NewReader(raw), n: 1024, cancel: cancel}
	err := Extract(ctx, r, s.dest, Limits{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Extract() error = %v, want context.Canceled", err)
	}
	if _, err := os.Lstat(filepath.Join(s.dest, "b")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("b was extracted after cancellation: %v", err)
	}
}

// cancelAfter calls cancel once n bytes have been read.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel func()
}

// Read implements io.Reader, returning at most 512 bytes per call.
func (c *cancelAfter) Read(p []byte) (int, error) {
	if len(p) > 512 {
		p = p[:512]
	}
	n, err := c.r.Read(p)
	c.n -= n
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func TestExtractWithTarInsecurePathSetting(t *testing.T) {
	// GODEBUG=tarinsecurepath=0 makes archive/tar report traversal itself;
	// the error must still wrap ErrUnsafeEntry.
	t.Setenv("GODEBUG", "tarinsecurepath=0")
	s := newSandbox(t, t.TempDir())
	raw := makeTar(t, reg("../outside/x", "evil", 0o644))
	err := Extract(context.Background(), bytes.NewReader(raw), s.dest, Limits{})
	if !errors.Is(err, ErrUnsafeEntry) {
		t.Fatalf("Extract() error = %v, want ErrUnsafeEntry", err)
	}
	s.checkConfined(t)
}

// limitOf is the limit a *LimitError names, "" for any other error.
func limitOf(err error) string {
	var le *LimitError
	if errors.As(err, &le) {
		return le.Limit
	}
	return ""
}
