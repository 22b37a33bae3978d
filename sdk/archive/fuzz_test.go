package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
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
	}
}

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
		valid := name == "seed-valid-tar" || name == "seed-valid-tar-gz"
		if valid && err != nil {
			t.Errorf("seed %s: %v", name, err)
		}
		if !valid && !errors.Is(err, ErrUnsafeEntry) {
			t.Errorf("seed %s: error = %v, want ErrUnsafeEntry", name, err)
		}
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
