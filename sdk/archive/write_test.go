package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// file describes one file of a test tree.
type file struct {
	path   string
	body   string
	mode   fs.FileMode // permission bits; ModeDir or ModeSymlink select the type
	target string      // symlink target
}

// buildTree creates files below root and sets every modification time to
// mtime.
func buildTree(tb testing.TB, root string, files []file, mtime time.Time) {
	tb.Helper()
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		switch {
		case f.mode&fs.ModeDir != 0:
			if err := os.MkdirAll(p, 0o755); err != nil {
				tb.Fatal(err)
			}
			if err := os.Chmod(p, f.mode.Perm()); err != nil {
				tb.Fatal(err)
			}
		case f.mode&fs.ModeSymlink != 0:
			if err := os.Symlink(filepath.FromSlash(f.target), p); err != nil {
				tb.Fatal(err)
			}
		default:
			if err := os.WriteFile(p, []byte(f.body), 0o600); err != nil {
				tb.Fatal(err)
			}
			if err := os.Chmod(p, f.mode.Perm()); err != nil {
				tb.Fatal(err)
			}
		}
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		return os.Chtimes(p, mtime, mtime)
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// sampleTree returns a tree with the given permission bits for its plain
// and executable files.
func sampleTree(plain, exec fs.FileMode) []file {
	return []file{
		{path: "README.md", body: "# sample\n", mode: plain},
		{path: "bin/run.sh", body: "#!/bin/sh\necho hi\n", mode: exec},
		{path: "conf/nested/deep/values.yaml", body: "a: 1\n", mode: plain},
		{path: "conf/empty", mode: fs.ModeDir | 0o700},
		{path: "conf/link", mode: fs.ModeSymlink, target: "nested/deep/values.yaml"},
		{path: "conf/up", mode: fs.ModeSymlink, target: "../README.md"},
	}
}

// readTar returns the headers and contents of a tar+gzip stream.
func readTar(tb testing.TB, b []byte) ([]*tar.Header, map[string]string) {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var hdrs []*tar.Header
	bodies := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return hdrs, bodies
		}
		if err != nil {
			tb.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			tb.Fatal(err)
		}
		hdrs = append(hdrs, hdr)
		bodies[hdr.Name] = string(body)
	}
}

func TestWriteTarGzIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	buildTree(t, a, sampleTree(0o600, 0o700), time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC))
	buildTree(t, b, sampleTree(0o640, 0o750), time.Date(2024, 12, 31, 23, 59, 59, 0, time.UTC))
	// The order of paths and overlapping paths must not matter either.
	var outA, outB bytes.Buffer
	resA, err := WriteTarGz(&outA, a, []string{"."}, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	resB, err := WriteTarGz(&outB, b, []string{"conf", "bin/run.sh", "README.md", "conf/nested", "bin"}, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(outA.Bytes(), outB.Bytes()) {
		t.Fatal("same content with different mtimes and modes gave different archives")
	}
	if resA != resB {
		t.Fatalf("results differ: %+v vs %+v", resA, resB)
	}

	zr, err := gzip.NewReader(bytes.NewReader(outA.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() || zr.OS != 255 || zr.Comment != "" || zr.Extra != nil {
		t.Errorf("gzip header not normalised: %+v", zr.Header)
	}
	uncompressed, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if want := digest.NewDigestFromBytes(digest.SHA256, sha256Sum(uncompressed)); resA.DiffID != want {
		t.Errorf("DiffID = %s, want sha256 of the tar %s", resA.DiffID, want)
	}
	if resA.Files != 3 || resA.Size != int64(len("# sample\n")+len("#!/bin/sh\necho hi\n")+len("a: 1\n")) {
		t.Errorf("Result = %+v", resA)
	}

	// Writing again gives the same bytes.
	var again bytes.Buffer
	if _, err := WriteTarGz(&again, a, []string{"."}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), outA.Bytes()) {
		t.Fatal("writing the same tree twice gave different archives")
	}
}

// sha256Sum returns the sha256 of b.
func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func TestWriteTarGzHeaders(t *testing.T) {
	root := t.TempDir()
	buildTree(t, root, sampleTree(0o600, 0o744), time.Now())
	var out bytes.Buffer
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 999, time.FixedZone("X", 3600))
	if _, err := WriteTarGz(&out, root, []string{"conf/nested/deep/values.yaml", "bin", "conf/link"}, WriteOptions{Prefix: "chart", ModTime: mtime}); err != nil {
		t.Fatal(err)
	}
	hdrs, bodies := readTar(t, out.Bytes())
	type want struct {
		name     string
		typeflag byte
		mode     int64
		linkname string
	}
	wants := []want{
		{"chart/", tar.TypeDir, 0o755, ""},
		{"chart/bin/", tar.TypeDir, 0o755, ""},
		{"chart/bin/run.sh", tar.TypeReg, 0o755, ""},
		{"chart/conf/", tar.TypeDir, 0o755, ""},
		{"chart/conf/link", tar.TypeSymlink, 0o777, "nested/deep/values.yaml"},
		{"chart/conf/nested/", tar.TypeDir, 0o755, ""},
		{"chart/conf/nested/deep/", tar.TypeDir, 0o755, ""},
		{"chart/conf/nested/deep/values.yaml", tar.TypeReg, 0o644, ""},
	}
	if len(hdrs) != len(wants) {
		var names []string
		for _, h := range hdrs {
			names = append(names, h.Name)
		}
		t.Fatalf("entries = %q, want %d entries", names, len(wants))
	}
	for i, h := range hdrs {
		w := wants[i]
		if h.Name != w.name || h.Typeflag != w.typeflag || h.Mode != w.mode || h.Linkname != w.linkname {
			t.Errorf("entry %d = %q type %q mode %o link %q, want %+v", i, h.Name, h.Typeflag, h.Mode, h.Linkname, w)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner %d:%d %q:%q, want 0:0 and empty names", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if !h.ModTime.Equal(time.Unix(mtime.Unix(), 0)) {
			t.Errorf("%s: ModTime %v, want %v", h.Name, h.ModTime, mtime.Truncate(time.Second))
		}
		if h.Format != tar.FormatUSTAR {
			t.Errorf("%s: format %v, want USTAR", h.Name, h.Format)
		}
	}
	if got := bodies["chart/bin/run.sh"]; got != "#!/bin/sh\necho hi\n" {
		t.Errorf("run.sh content = %q", got)
	}
}

func TestWriteTarGzDefaultModTimeAndPAX(t *testing.T) {
	root := t.TempDir()
	long := strings.Repeat("d", 120) + "/" + strings.Repeat("f", 120)
	buildTree(t, root, []file{{path: long, body: "x", mode: 0o644}, {path: "é.txt", body: "y", mode: 0o644}, {path: "short", body: "z", mode: 0o644}}, time.Now())
	var out1, out2 bytes.Buffer
	for _, out := range []*bytes.Buffer{&out1, &out2} {
		if _, err := WriteTarGz(out, root, []string{"."}, WriteOptions{Level: 9}); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(out1.Bytes(), out2.Bytes()) {
		t.Fatal("PAX archives are not deterministic")
	}
	hdrs, _ := readTar(t, out1.Bytes())
	formats := map[string]tar.Format{}
	for _, h := range hdrs {
		formats[h.Name] = h.Format
		if !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: ModTime %v, want the Unix epoch", h.Name, h.ModTime)
		}
	}
	if formats[long] != tar.FormatPAX || formats["é.txt"] != tar.FormatPAX || formats["short"] != tar.FormatUSTAR {
		t.Errorf("formats = %v, want PAX only for the long and non-ASCII names", formats)
	}
}

func TestWriteTarGzRefuses(t *testing.T) {
	root := t.TempDir()
	base := []file{
		{path: "ok.txt", body: "x", mode: 0o644},
		{path: "sub/f", body: "x", mode: 0o644},
		{path: "linkdir", mode: fs.ModeSymlink, target: "sub"},
		{path: "abs", mode: fs.ModeSymlink, target: "/etc/passwd"},
		{path: "esc", mode: fs.ModeSymlink, target: "../outside"},
		{path: "deep/esc", mode: fs.ModeSymlink, target: "../../x"},
		{path: "sneaky", mode: fs.ModeSymlink, target: "linkdir/../../x"},
	}
	if runtime.GOOS != "windows" {
		base = append(base, file{path: `back\slash`, body: "x", mode: 0o644})
	}
	buildTree(t, filepath.Join(root, "tree"), base, time.Now())
	tree := filepath.Join(root, "tree")
	tests := []struct {
		paths   []string
		opts    WriteOptions
		want    error
		wantMsg string
	}{
		{paths: []string{"../x"}, want: ErrUnsafeEntry, wantMsg: `"../x"`},
		{paths: []string{"sub/../ok.txt"}, want: ErrUnsafeEntry, wantMsg: `".."`},
		{paths: []string{"/etc/passwd"}, want: ErrUnsafeEntry, wantMsg: "absolute"},
		{paths: []string{""}, want: ErrUnsafeEntry, wantMsg: "empty"},
		{paths: []string{"linkdir/f"}, want: ErrUnsafeEntry, wantMsg: `symlink "linkdir"`},
		{paths: []string{"abs"}, want: ErrUnsafeEntry, wantMsg: "absolute"},
		{paths: []string{"esc"}, want: ErrUnsafeEntry, wantMsg: "outside"},
		{paths: []string{"deep"}, want: ErrUnsafeEntry, wantMsg: "outside"},
		{paths: []string{"sneaky"}, want: ErrUnsafeEntry, wantMsg: `".." after a normal component`},
		{paths: []string{"."}, want: ErrUnsafeEntry},
		{paths: []string{`back\slash`}, want: ErrUnsafeEntry, wantMsg: "backslash"},
		{paths: []string{"missing"}, want: fs.ErrNotExist, wantMsg: "missing"},
		{paths: []string{"ok.txt"}, opts: WriteOptions{Prefix: "../up"}, want: ErrUnsafeEntry, wantMsg: "Prefix"},
		{paths: []string{"ok.txt"}, opts: WriteOptions{Prefix: "/abs"}, want: ErrUnsafeEntry, wantMsg: "Prefix"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.paths, tt.opts.Prefix), func(t *testing.T) {
			_, err := WriteTarGz(io.Discard, tree, tt.paths, tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("WriteTarGz(%q) error = %v, want %v", tt.paths, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
	if _, err := WriteTarGz(io.Discard, tree, []string{"ok.txt"}, WriteOptions{Level: 42}); err == nil || !strings.Contains(err.Error(), "Level") {
		t.Errorf("invalid level: error = %v", err)
	}
	if _, err := WriteTarGz(io.Discard, filepath.Join(root, "nope"), []string{"ok.txt"}, WriteOptions{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing root: error = %v", err)
	}
}

func TestWriteTarGzEmpty(t *testing.T) {
	var out bytes.Buffer
	res, err := WriteTarGz(&out, t.TempDir(), nil, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hdrs, _ := readTar(t, out.Bytes())
	if len(hdrs) != 0 || res.Files != 0 || res.Size != 0 {
		t.Fatalf("empty archive has %d entries, result %+v", len(hdrs), res)
	}
}

func TestRoundTrip(t *testing.T) {
	src := t.TempDir()
	buildTree(t, src, sampleTree(0o640, 0o750), time.Now())
	var buf bytes.Buffer
	if _, err := WriteTarGz(&buf, src, []string{"."}, WriteOptions{Prefix: "pkg/"}); err != nil {
		t.Fatal(err)
	}
	s := newSandbox(t, t.TempDir())
	if err := Extract(context.Background(), &buf, s.dest, Limits{}); err != nil {
		t.Fatal(err)
	}
	s.checkConfined(t)
	got := filepath.Join(s.dest, "pkg")
	want := map[string]struct {
		mode   fs.FileMode
		body   string
		target string
	}{
		".":                            {mode: fs.ModeDir | 0o755},
		"README.md":                    {mode: 0o644, body: "# sample\n"},
		"bin":                          {mode: fs.ModeDir | 0o755},
		"bin/run.sh":                   {mode: 0o755, body: "#!/bin/sh\necho hi\n"},
		"conf":                         {mode: fs.ModeDir | 0o755},
		"conf/empty":                   {mode: fs.ModeDir | 0o755},
		"conf/link":                    {mode: fs.ModeSymlink | 0o777, target: "nested/deep/values.yaml"},
		"conf/up":                      {mode: fs.ModeSymlink | 0o777, target: "../README.md"},
		"conf/nested":                  {mode: fs.ModeDir | 0o755},
		"conf/nested/deep":             {mode: fs.ModeDir | 0o755},
		"conf/nested/deep/values.yaml": {mode: 0o644, body: "a: 1\n"},
	}
	seen := 0
	err := filepath.WalkDir(got, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(got, p)
		rel = filepath.ToSlash(rel)
		w, ok := want[rel]
		if !ok {
			t.Errorf("unexpected %s", rel)
			return nil
		}
		seen++
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if fi.Mode() != w.mode {
			t.Errorf("%s: mode %v, want %v", rel, fi.Mode(), w.mode)
		}
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil || string(b) != w.body {
				t.Errorf("%s = %q, %v; want %q", rel, b, err, w.body)
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil || filepath.ToSlash(target) != w.target {
				t.Errorf("%s -> %q, %v; want %q", rel, target, err, w.target)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(want) {
		t.Errorf("found %d of %d expected entries", seen, len(want))
	}
	if b, err := os.ReadFile(filepath.Join(got, "conf/up")); err != nil || string(b) != "# sample\n" {
		t.Errorf("reading through conf/up = %q, %v", b, err)
	}
}
