package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// entry is one tar entry of a test archive.
type entry struct {
	hdr  tar.Header
	body string
}

// reg returns a regular file entry.
func reg(name, body string, mode int64) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body))}, body: body}
}

// dir returns a directory entry.
func dir(name string, mode int64) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode}}
}

// symlink returns a symlink entry.
func symlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

// hardlink returns a hard link entry.
func hardlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644}}
}

// special returns an entry with the given type flag and no content.
func special(name string, typeflag byte) entry {
	return entry{hdr: tar.Header{Typeflag: typeflag, Name: name, Mode: 0o644}}
}

// makeTar builds an uncompressed tar stream from entries. Headers whose Size
// differs from len(body) are written as is, without closing the archive, to
// produce streams with lying headers.
func makeTar(tb testing.TB, entries ...entry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	lying := false
	for _, e := range entries {
		hdr := e.hdr
		if hdr.ModTime.IsZero() && hdr.Typeflag != tar.TypeXGlobalHeader {
			hdr.ModTime = time.Unix(0, 0)
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			tb.Fatalf("writing header %q: %v", hdr.Name, err)
		}
		if e.body != "" {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				tb.Fatalf("writing body of %q: %v", hdr.Name, err)
			}
		}
		if hdr.Size != int64(len(e.body)) {
			lying = true
			break
		}
	}
	if !lying {
		if err := tw.Close(); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Bytes()
}

// gzipBytes compresses b with the standard library's gzip.
func gzipBytes(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// sandbox is a temporary directory holding an extraction destination and an
// empty sibling that must stay empty.
type sandbox struct {
	top, dest, outside string
}

// newSandbox creates a sandbox below base.
func newSandbox(tb testing.TB, base string) sandbox {
	tb.Helper()
	s := sandbox{top: base, dest: filepath.Join(base, "dest"), outside: filepath.Join(base, "outside")}
	for _, d := range []string{s.dest, s.outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

// checkConfined fails unless nothing was created outside s.dest and every
// symlink inside s.dest resolves inside it.
func (s sandbox) checkConfined(tb testing.TB) {
	tb.Helper()
	top, err := os.ReadDir(s.top)
	if err != nil {
		tb.Fatal(err)
	}
	if len(top) != 2 || top[0].Name() != "dest" || top[1].Name() != "outside" {
		var names []string
		for _, e := range top {
			names = append(names, e.Name())
		}
		tb.Fatalf("entries were created next to dest: %q", names)
	}
	out, err := os.ReadDir(s.outside)
	if err != nil {
		tb.Fatal(err)
	}
	if len(out) != 0 {
		tb.Fatalf("%d entries were created in the sibling directory, first %q", len(out), out[0].Name())
	}
	realDest, err := filepath.EvalSymlinks(s.dest)
	if err != nil {
		tb.Fatal(err)
	}
	err = filepath.WalkDir(s.dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		if filepath.IsAbs(target) {
			tb.Errorf("symlink %s has absolute target %q", p, target)
		}
		if lexical := filepath.Join(filepath.Dir(p), target); !within(s.dest, lexical) {
			tb.Errorf("symlink %s -> %q points outside dest", p, target)
		}
		if resolved, err := filepath.EvalSymlinks(p); err == nil && !within(realDest, resolved) {
			tb.Errorf("symlink %s -> %q resolves to %s, outside dest", p, target, resolved)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// within reports whether p is dir or below it.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
