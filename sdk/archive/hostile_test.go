package archive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierpack/tierpack/sdk/archive/archivetest"
)

// TestBudgetSpansArchives: one Budget bounds several archives together, as
// the layers of one pull; each archive alone is within the limits.
func TestBudgetSpansArchives(t *testing.T) {
	layer := archivetest.Gzip(archivetest.Tar(archivetest.File{Name: "a", Mode: 0o644, Body: bytes.Repeat([]byte{'x'}, 600)}))
	layer2 := archivetest.Gzip(archivetest.Tar(archivetest.File{Name: "b", Mode: 0o644, Body: bytes.Repeat([]byte{'x'}, 600)}))
	for _, tc := range []struct {
		name   string
		limits Limits
		want   string
	}{
		{"size", Limits{MaxTotalSize: 1000}, "takes the content past the 1000 bytes limit on the total size"},
		{"entries", Limits{MaxEntries: 1}, "more than 1 entries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dest := t.TempDir()
			b := &Budget{Limits: tc.limits}
			if err := ExtractWith(context.Background(), bytes.NewReader(layer), dest, ExtractOptions{Budget: b}); err != nil {
				t.Fatalf("first archive: %v", err)
			}
			if b.Size != 600 || b.Entries != 1 {
				t.Errorf("budget after the first archive: %+v", b)
			}
			err := ExtractWith(context.Background(), bytes.NewReader(layer2), dest, ExtractOptions{Budget: b})
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("second archive: %v, want ErrTooLarge saying %q", err, tc.want)
			}
			// Scan charges the same budget the same way.
			sb := &Budget{Limits: tc.limits}
			if err := Scan(context.Background(), bytes.NewReader(layer), ExtractOptions{Budget: sb}); err != nil {
				t.Fatal(err)
			}
			if err := Scan(context.Background(), bytes.NewReader(layer2), ExtractOptions{Budget: sb}); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Scan of the second archive: %v, want ErrTooLarge", err)
			}
		})
	}
}

// TestExtractRefusesPAXSparse: a 2 KiB archive declaring a 1 GiB sparse
// file in PAX GNU sparse 1.0 form (which archive/tar expands silently) is
// refused before anything is written, compressed or not.
func TestExtractRefusesPAXSparse(t *testing.T) {
	raw := archivetest.PAXSparse("big", 1<<30)
	for _, in := range [][]byte{raw, archivetest.Gzip(raw)} {
		s := newSandbox(t, t.TempDir())
		err := Extract(context.Background(), bytes.NewReader(in), s.dest, Limits{})
		if !errors.Is(err, ErrUnsafeEntry) || !strings.Contains(err.Error(), "PAX sparse file") {
			t.Fatalf("Extract() = %v, want ErrUnsafeEntry for a PAX sparse file", err)
		}
		if entries, _ := os.ReadDir(s.dest); len(entries) != 0 {
			t.Errorf("Extract wrote %d entries", len(entries))
		}
		if err := Scan(context.Background(), bytes.NewReader(in), ExtractOptions{}); !errors.Is(err, ErrUnsafeEntry) {
			t.Errorf("Scan() = %v, want ErrUnsafeEntry", err)
		}
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestExtractRefusesNonGzipInGzipLayer: plain zeros in a layer whose media
// type says tar+gzip are refused after reading a few bytes, not read whole
// and accepted as an empty tar.
func TestExtractRefusesNonGzipInGzipLayer(t *testing.T) {
	for name, in := range map[string]io.Reader{
		"zeros":     io.LimitReader(zeroReader{}, 1<<30),
		"plain tar": bytes.NewReader(archivetest.Tar(archivetest.File{Name: "f", Mode: 0o644, Body: []byte("x")})),
	} {
		t.Run(name, func(t *testing.T) {
			cr := &countingReader{r: in}
			err := ExtractWith(context.Background(), cr, t.TempDir(), ExtractOptions{Format: FormatGzip})
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "gzip magic") {
				t.Fatalf("ExtractWith() = %v, want ErrCorrupt about the gzip magic", err)
			}
			if cr.n > 64<<10 {
				t.Errorf("read %d bytes before refusing", cr.n)
			}
		})
	}
	// FormatAuto still reads a plain tar.
	in := archivetest.Tar(archivetest.File{Name: "f", Mode: 0o644, Body: []byte("x")})
	if err := ExtractWith(context.Background(), bytes.NewReader(in), t.TempDir(), ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestFormatOf: media types map to the format their data must have.
func TestFormatOf(t *testing.T) {
	for mt, want := range map[string]Format{
		"application/vnd.oci.image.layer.v1.tar+gzip":         FormatGzip,
		"application/vnd.oci.image.layer.v1.tar":              FormatTar,
		"application/vnd.docker.image.rootfs.diff.tar.gzip":   FormatGzip,
		"application/vnd.cncf.helm.chart.content.v1.tar+gzip": FormatGzip,
		"application/vnd.oci.image.layer.v1.tar+zstd":         FormatZstd,
		"application/vnd.cncf.helm.chart.provenance.v1.prov":  -1,
		"application/vnd.oci.image.config.v1+json":            -1,
	} {
		got, ok := FormatOf(mt)
		if (want == -1) == ok || (ok && got != want) {
			t.Errorf("FormatOf(%q) = %v, %v; want %v", mt, got, ok, want)
		}
	}
}

// TestExtractNeverGroupOrWorldWritable: a setuid 4777 file and a 0777
// directory land without the special bits and without group or world
// write; GroupWorldWritable keeps the write bits (never the special ones).
func TestExtractNeverGroupOrWorldWritable(t *testing.T) {
	raw := makeTar(t, dir("d/", 0o777), reg("d/suid", "x", 0o4777), reg("f", "x", 0o666))
	umask := currentUmask(t)
	for _, keep := range []bool{false, true} {
		dest := t.TempDir()
		if err := ExtractWith(context.Background(), bytes.NewReader(raw), dest, ExtractOptions{GroupWorldWritable: keep}); err != nil {
			t.Fatal(err)
		}
		strip := fs.FileMode(0o022)
		if keep {
			strip = 0
		}
		for name, archived := range map[string]fs.FileMode{"d": 0o777, "d/suid": 0o777, "f": 0o666} {
			fi, err := os.Lstat(filepath.Join(dest, name))
			if err != nil {
				t.Fatal(err)
			}
			want := archived &^ strip &^ umask
			if name == "d" {
				want |= 0o700
			}
			if got := fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky); got != want {
				t.Errorf("keep=%v: %s has mode %v, want %v", keep, name, got, want)
			}
		}
	}
}

// currentUmask reads the umask the way Extract does, from a probe.
func currentUmask(t *testing.T) fs.FileMode {
	t.Helper()
	p := filepath.Join(t.TempDir(), "probe")
	if err := os.Mkdir(p, 0o777); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return 0o777 &^ fi.Mode().Perm()
}

// TestMessagesEscapeNames: control characters and bidirectional overrides
// in entry names never reach a message raw.
func TestMessagesEscapeNames(t *testing.T) {
	const evil = "\x1b[2K\rok\u202egnp.exe"
	for name, raw := range map[string][]byte{
		"traversal":  makeTar(t, reg("../"+evil, "x", 0o644)),
		"device":     makeTar(t, special(evil, '3')),
		"too large":  makeTar(t, reg(evil, strings.Repeat("x", 100), 0o644)),
		"duplicate":  makeTar(t, reg(evil, "x", 0o644), reg(evil, "y", 0o644)),
		"hard link":  makeTar(t, hardlink("h", evil)),
		"sparse":     archivetest.PAXSparse(evil, 1<<20),
		"bad parent": makeTar(t, reg(evil, "x", 0o644), reg(evil+"/f", "y", 0o644)),
	} {
		err := Extract(context.Background(), bytes.NewReader(raw), t.TempDir(), Limits{MaxFileSize: 10})
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if msg := err.Error(); strings.ContainsAny(msg, "\x1b\r\u202e") {
			t.Errorf("%s: message holds a raw control or bidi character: %q", name, msg)
		}
	}
}

// TestScanAgreesWithExtract: Scan accepts exactly what Extract accepts,
// on the fuzz seeds and the hostile cases.
func TestScanAgreesWithExtract(t *testing.T) {
	for name, data := range fuzzSeeds(t) {
		s := newSandbox(t, t.TempDir())
		xerr := Extract(context.Background(), bytes.NewReader(data), s.dest, Limits{})
		serr := Scan(context.Background(), bytes.NewReader(data), ExtractOptions{})
		if (xerr == nil) != (serr == nil) {
			t.Errorf("%s: Extract = %v, Scan = %v", name, xerr, serr)
		}
	}
}
