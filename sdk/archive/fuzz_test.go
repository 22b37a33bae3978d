package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/tierpack/tierpack/sdk/archive/archivetest"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed files in testdata/fuzz/FuzzExtract")

// fuzzSeeds returns the named seed archives of FuzzExtract. The plain tar
// seeds lack the end-of-archive marker, which tar readers do not require,
// because small seeds make the fuzzer's minimization much faster.
func fuzzSeeds(tb testing.TB) map[string][]byte {
	tb.Helper()
	valid := makeTar(tb,
		dir("d/", 0o755),
		reg("d/f", "hello", 0o644),
		reg("d/run.sh", "#!/bin/sh\n", 0o755),
		hardlink("d/h", "d/f"),
		symlink("d/l", "f"),
		symlink("up", "d/f"),
	)
	trim := func(b []byte) []byte { return b[:len(b)-1024] }
	return map[string][]byte{
		"seed-valid-tar":        trim(valid),
		"seed-valid-tar-gz":     gzipBytes(tb, valid),
		"seed-traversal":        trim(makeTar(tb, reg("a/../../x", "evil", 0o644), reg("../outside/y", "evil", 0o644))),
		"seed-symlink-write":    trim(makeTar(tb, symlink("a", "."), reg("a/x", "x", 0o644), symlink("b", "../outside"), reg("b/y", "y", 0o644))),
		"seed-symlink-chain":    trim(makeTar(tb, symlink("s", "."), symlink("l", "s/../outside"))),
		"seed-hardlink-escape":  trim(makeTar(tb, reg("f", "x", 0o644), hardlink("g", "f"), hardlink("h", "../outside/x"))),
		"seed-duplicate-device": trim(makeTar(tb, reg("f", "1", 0o644), reg("f", "2", 0o644), special("null", tar.TypeChar))),
		// Issue 12's hostile archives: a PAX GNU sparse 1.0 file (a few
		// hundred bytes expanding to 1 GiB), a setuid world-writable file
		// and directory (accepted, without those bits), names with control
		// characters and a bidi override, and plain zeros (an empty tar).
		"seed-pax-sparse":            archivetest.PAXSparse("big", 1<<30),
		"seed-setuid-world-writable": trim(makeTar(tb, dir("w/", 0o777), reg("w/suid", "#!/bin/sh\n", 0o4777))),
		"seed-control-names":         trim(makeTar(tb, reg("ok\x1b[2K\u202e", "x", 0o644), reg("../\x1b]0;pwned\a", "x", 0o644))),
		"seed-zeros":                 make([]byte, 4096),
	}
}

// validSeeds are the seeds Extract accepts; it refuses every other seed
// with ErrUnsafeEntry.
var validSeeds = map[string]bool{"seed-valid-tar": true, "seed-valid-tar-gz": true, "seed-setuid-world-writable": true, "seed-zeros": true}

func FuzzExtract(f *testing.F) {
	// The committed files in testdata/fuzz/FuzzExtract are the seed corpus;
	// regenerate them with: go test ./sdk/archive -run TestFuzzCorpus -args -update-corpus.
	//
	// The target touches the file system and runs about a thousand times a
	// second, so the default one minute spent minimizing each new input
	// stalls short runs; add -fuzzminimizetime=1000x to make progress.
	//
	// Iterations of one worker run sequentially and reuse one sandbox, which
	// is several times faster than a fresh t.TempDir each time.
	base := f.TempDir()
	limits := Limits{MaxFileSize: 1 << 20, MaxTotalSize: 4 << 20, MaxEntries: 256}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := resetSandbox(t, filepath.Join(base, "a"))
		err := Extract(context.Background(), bytes.NewReader(data), s.dest, limits)
		// Whatever the input and whether or not Extract failed, nothing may
		// exist outside dest and no symlink may lead out of it.
		s.checkConfined(t)
		// Scan, which writes nothing, accepts exactly what Extract accepts.
		if serr := Scan(context.Background(), bytes.NewReader(data), ExtractOptions{Budget: &Budget{Limits: limits}}); (serr == nil) != (err == nil) {
			t.Fatalf("Extract = %v but Scan = %v", err, serr)
		}
		s.checkNotWritableByOthers(t)
		if err == nil {
			// An accepted archive must extract the same way again.
			again := resetSandbox(t, filepath.Join(base, "b"))
			if err := Extract(context.Background(), bytes.NewReader(data), again.dest, limits); err != nil {
				t.Fatalf("first extraction succeeded, second failed: %v", err)
			}
			again.checkConfined(t)
		}
	})
}

// resetSandbox empties or creates the sandbox at top.
func resetSandbox(tb testing.TB, top string) sandbox {
	tb.Helper()
	if err := os.RemoveAll(top); err != nil {
		tb.Fatal(err)
	}
	if err := os.Mkdir(top, 0o755); err != nil {
		tb.Fatal(err)
	}
	return newSandbox(tb, top)
}

func TestFuzzCorpus(t *testing.T) {
	seeds := fuzzSeeds(t)
	corpus := filepath.Join("testdata", "fuzz", "FuzzExtract")
	if *updateCorpus {
		if err := os.MkdirAll(corpus, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range seeds {
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(data)))
			if err := os.WriteFile(filepath.Join(corpus, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Every seed must be accepted or refused as documented, confined to dest.
	for name := range seeds {
		b, err := os.ReadFile(filepath.Join(corpus, name))
		if err != nil {
			t.Fatalf("seed %s is missing (run go test ./sdk/archive -run TestFuzzCorpus -args -update-corpus): %v", name, err)
		}
		data, err := parseCorpusFile(b)
		if err != nil {
			t.Fatalf("seed %s: %v", name, err)
		}
		s := newSandbox(t, t.TempDir())
		err = Extract(context.Background(), bytes.NewReader(data), s.dest, Limits{})
		s.checkConfined(t)
		s.checkNotWritableByOthers(t)
		valid := validSeeds[name]
		if valid && err != nil {
			t.Errorf("seed %s: %v", name, err)
		}
		if !valid && !errors.Is(err, ErrUnsafeEntry) {
			t.Errorf("seed %s: error = %v, want ErrUnsafeEntry", name, err)
		}
	}
}

// checkNotWritableByOthers fails if anything in s.dest other than a
// symlink has a group or world write bit or a setuid, setgid or sticky bit.
func (s sandbox) checkNotWritableByOthers(tb testing.TB) {
	tb.Helper()
	err := filepath.WalkDir(s.dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == s.dest || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if m := fi.Mode(); m&0o022 != 0 || m&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
			tb.Errorf("%s has mode %v", p, m)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// parseCorpusFile decodes a "go test fuzz v1" file holding one []byte.
func parseCorpusFile(b []byte) ([]byte, error) {
	const header = "go test fuzz v1\n[]byte("
	if !bytes.HasPrefix(b, []byte(header)) {
		return nil, errors.New("not a go test fuzz v1 file with one []byte value")
	}
	lit := bytes.TrimSuffix(bytes.TrimSpace(b[len(header):]), []byte(")"))
	s, err := strconv.Unquote(string(lit))
	return []byte(s), err
}
