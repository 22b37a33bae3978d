package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// zstdBytes compresses b with klauspost/compress/zstd's defaults.
func zstdBytes(tb testing.TB, b []byte) []byte {
	tb.Helper()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return zw.EncodeAll(b, nil)
}

// TestWriteZstd: a zstd archive is reproducible like a gzip one, holds the
// same tar stream (same DiffID), extracts to the same tree, and is what
// FormatOf's tar+zstd media type and FormatAuto expect.
func TestWriteZstd(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	buildTree(t, a, sampleTree(0o600, 0o700), time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC))
	buildTree(t, b, sampleTree(0o640, 0o750), time.Now())
	var za, zb, gz bytes.Buffer
	resA, err := Write(&za, a, []string{"."}, WriteOptions{Compression: Zstd})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(&zb, b, []string{"conf", "bin", "README.md"}, WriteOptions{Compression: Zstd}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(za.Bytes(), zb.Bytes()) {
		t.Fatal("same content with different mtimes and modes gave different zstd archives")
	}
	if !bytes.HasPrefix(za.Bytes(), zstdMagic) {
		t.Fatalf("zstd archive starts with % x", za.Bytes()[:4])
	}
	resG, err := WriteTarGz(&gz, a, []string{"."}, WriteOptions{Compression: Zstd}) // WriteTarGz is always gzip
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(gz.Bytes(), []byte{0x1f, 0x8b}) {
		t.Fatal("WriteTarGz with Compression zstd did not write gzip")
	}
	if resA != resG {
		t.Fatalf("zstd and gzip archives of one tree differ in their tar stream: %+v vs %+v", resA, resG)
	}
	if f, ok := FormatOf("application/vnd.oci.image.layer.v1.tar+zstd"); !ok || f != FormatZstd || Zstd.Format() != f {
		t.Fatalf("FormatOf(tar+zstd) = %v, %v", f, ok)
	}
	for _, format := range []Format{FormatZstd, FormatAuto} {
		s := newSandbox(t, t.TempDir())
		if err := ExtractWith(context.Background(), bytes.NewReader(za.Bytes()), s.dest, ExtractOptions{Format: format}); err != nil {
			t.Fatalf("format %d: %v", format, err)
		}
		s.checkConfined(t)
		if got, err := os.ReadFile(filepath.Join(s.dest, "bin/run.sh")); err != nil || string(got) != "#!/bin/sh\necho hi\n" {
			t.Fatalf("format %d: bin/run.sh = %q, %v", format, got, err)
		}
	}
	if _, err := Write(io.Discard, a, []string{"."}, WriteOptions{Compression: "xz"}); err == nil {
		t.Fatal("Write with Compression xz succeeded")
	}
}

// TestZstdSameOnEveryMachine: an archive big enough to be compressed in
// several concurrent sections gives the same bytes with one core as with
// several, so a version pushed from a laptop and from CI has one digest.
func TestZstdSameOnEveryMachine(t *testing.T) {
	dir := t.TempDir()
	big := make([]byte, 24<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(big); i += 4096 {
		copy(big[i:], strings.Repeat("falco rule: detect shell in container\n", 60)[:2048])
		for j := i + 2048; j < i+4096; j += 8 {
			binary.LittleEndian.PutUint64(big[j:], rng.Uint64())
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(procs int) []byte {
		prev := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(prev)
		var buf bytes.Buffer
		if _, err := Write(&buf, dir, []string{"."}, WriteOptions{Compression: Zstd}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	one, four := write(1), write(4)
	if !bytes.Equal(one, four) {
		t.Fatalf("zstd archives of one tree differ with 1 and 4 cores (%d and %d bytes)", len(one), len(four))
	}
}

// TestExtractRefusesBadZstd: truncated, corrupt, mislabelled, padded and
// huge-window zstd input is refused as corrupt, and nothing lands outside
// the destination.
func TestExtractRefusesBadZstd(t *testing.T) {
	tarball := makeTar(t, reg("f", strings.Repeat("hello ", 100), 0o644))
	good := zstdBytes(t, tarball)
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-1] ^= 1 // the content checksum, checked at the end
	// A frame header asking for a 256 MiB window (window descriptor
	// exponent 18: 2^28), which the decoder's own default (512 MiB) would
	// take, then an empty last raw block: refused before any window is
	// allocated, where it would otherwise read as an empty archive.
	hugeWindow := append(bytes.Clone(zstdMagic), 0x00, 18<<3, 0x01, 0x00, 0x00)
	for name, c := range map[string]struct {
		in     []byte
		format Format
	}{
		"truncated":               {good[:len(good)/2], FormatZstd},
		"corrupt checksum":        {corrupt, FormatZstd},
		"trailing data":           {zstdBytes(t, append(bytes.Clone(tarball), make([]byte, maxTrailingGzip+1)...)), FormatZstd},
		"gzip labelled zstd":      {gzipBytes(t, tarball), FormatZstd},
		"zstd labelled gzip":      {good, FormatGzip},
		"window above the limit":  {hugeWindow, FormatZstd},
		"garbage after the magic": {append(bytes.Clone(zstdMagic), bytes.Repeat([]byte{0xff}, 64)...), FormatAuto},
	} {
		t.Run(name, func(t *testing.T) {
			s := newSandbox(t, t.TempDir())
			err := ExtractWith(context.Background(), bytes.NewReader(c.in), s.dest, ExtractOptions{Format: c.format})
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ExtractWith() = %v, want ErrCorrupt", err)
			}
			if err := Scan(context.Background(), bytes.NewReader(c.in), ExtractOptions{Format: c.format}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Scan() = %v, want ErrCorrupt", err)
			}
			s.checkConfined(t)
		})
	}
	// A zstd bomb: a small layer that inflates past the budget is stopped
	// by the budget, not by memory.
	bomb := zstdBytes(t, makeTar(t, reg("big", strings.Repeat("\x00", 8<<20), 0o644)))
	if len(bomb) > 64<<10 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	s := newSandbox(t, t.TempDir())
	err := ExtractWith(context.Background(), bytes.NewReader(bomb), s.dest, ExtractOptions{Format: FormatZstd, Budget: &Budget{Limits: Limits{MaxFileSize: 1 << 20}}})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("zstd bomb: %v, want ErrTooLarge", err)
	}
}
