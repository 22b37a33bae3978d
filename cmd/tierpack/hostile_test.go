package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/tierpack/tierpack/internal/faultproxy"
	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive/archivetest"
)

// pushRawScript pushes a script artifact whose layers are the given
// tar+gzip bytes, as anyone with push access could without tierpack.
func pushRawScript(t *testing.T, repo *remote.Repository, tag string, layers ...[]byte) {
	t.Helper()
	pushRawScriptWith(t, repo, tag, nil, layers...)
}

// pushRawScriptWith is pushRawScript with more manifest annotations.
func pushRawScriptWith(t *testing.T, repo *remote.Repository, tag string, annotations map[string]string, layers ...[]byte) {
	t.Helper()
	ctx := context.Background()
	push := func(mediaType string, b []byte) ocispec.Descriptor {
		d := content.NewDescriptorFromBytes(mediaType, b)
		if err := repo.Push(ctx, d, bytes.NewReader(b)); err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Fatal(err)
		}
		return d
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.tierpack.script.v1",
		Config:       push(ocispec.MediaTypeEmptyJSON, []byte("{}")),
		Annotations:  map[string]string{sdk.AnnotationTier: "contrib", sdk.AnnotationType: "script", sdk.AnnotationName: "hostile"},
	}
	maps.Copy(m.Annotations, annotations)
	for _, l := range layers {
		m.Layers = append(m.Layers, push(sdk.MediaTypeLayerTarGzip, l))
	}
	b, _ := json.Marshal(m)
	d := push(ocispec.MediaTypeImageManifest, b)
	if err := repo.Tag(ctx, d, tag); err != nil {
		t.Fatal(err)
	}
}

// runWith runs tierpack in p's home with extra environment variables, and
// returns its stdout and stderr together, and its exit code.
func (p *tp) runWith(env []string, args ...string) (string, int) {
	p.t.Helper()
	cmd := exec.Command(tierpackBin, args...)
	cmd.Dir = p.dir
	cmd.Env = append(testEnv(p.t, p.home), env...)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &errb, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return errb.String(), ee.ExitCode()
	} else if err != nil {
		p.t.Fatal(err)
	}
	return errb.String(), 0
}

// TestHostilePullExitCodes: issue 12's hostile artifacts, pulled by the
// real binary from the real registry, exit 8 with a message that names
// the problem, escapes hostile names and says how to raise a limit; the
// limits are raised with --max-size or TIERPACK_MAX_SIZE.
func TestHostilePullExitCodes(t *testing.T) {
	reg := registrytest.New(t)
	p := newTP(t)
	repo := remoteRepo(t, reg, "hostile/pull")
	const mib = 1 << 20
	file := func(name string, size int) []byte {
		return archivetest.Gzip(archivetest.Tar(archivetest.File{Name: name, Mode: 0o644, Body: bytes.Repeat([]byte{'x'}, size)}))
	}
	pushRawScript(t, repo, "sparse", archivetest.Gzip(archivetest.PAXSparse("big", 1<<30)))
	pushRawScript(t, repo, "two-layers", file("a", 2*mib), file("b", 2*mib))
	pushRawScript(t, repo, "names", file("../\x1b]0;pwned\a\u202etxt.sh", 1))
	pushRawScript(t, repo, "zeros", make([]byte, 4*mib))
	ref := func(tag string) string { return reg.Host + "/hostile/pull:" + tag }

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		say  []string
	}{
		{"PAX sparse", nil, []string{ref("sparse")}, exitRefused, []string{"PAX sparse file"}},
		{"zeros typed tar+gzip", nil, []string{ref("zeros")}, exitRefused, []string{"gzip magic"}},
		{"control characters", nil, []string{ref("names")}, exitRefused, []string{`\x1b]0;pwned\a\u202e`}},
		{"over --max-size across layers", nil, []string{ref("two-layers"), "--max-size", "3MiB"}, exitRefused, []string{"3 MiB limit on the total size", "--max-size"}},
		{"over TIERPACK_MAX_SIZE", []string{"TIERPACK_MAX_SIZE=3MiB"}, []string{ref("two-layers")}, exitRefused, []string{"3 MiB limit"}},
		{"over --max-file-size", nil, []string{ref("two-layers"), "--max-file-size", "1MiB"}, exitRefused, []string{"1 MiB limit on one file", "--max-file-size"}},
		{"over TIERPACK_MAX_ENTRIES", []string{"TIERPACK_MAX_ENTRIES=1"}, []string{ref("two-layers")}, exitRefused, []string{"more than 1 entries", "--max-entries"}},
		{"within raised limits", []string{"TIERPACK_MAX_SIZE=3MiB"}, []string{ref("two-layers"), "--max-size", "5MiB"}, 0, nil},
		{"a bad size", nil, []string{ref("two-layers"), "--max-size", "lots"}, exitUsage, []string{"4GiB"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := p.path(strings.ReplaceAll(tc.name, " ", "-"))
			stderr, code := p.runWith(tc.env, append([]string{"pull", "-o", out}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", code, tc.code, stderr)
			}
			for _, s := range tc.say {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if strings.ContainsAny(stderr, "\x1b\a\u202e") {
				t.Errorf("stderr holds a raw control or bidi character: %q", stderr)
			}
			if _, err := os.Stat(out); (err == nil) != (code == 0) {
				t.Errorf("output folder exists: %v, exit %d", err == nil, code)
			}
		})
	}
}

// TestInvalidContributionExitCodes: symlinks leaving the folder, FIFOs,
// YAML alias bombs, OWNERS symlinked from outside and a file no pull
// would accept make a contribution invalid: exit 3 from validate and push.
func TestInvalidContributionExitCodes(t *testing.T) {
	p := newTP(t)
	outside := filepath.Join(t.TempDir(), "OWNERS")
	os.WriteFile(outside, []byte("approvers: [mallory]\n"), 0o644)
	bomb := "spec:\n  a: &a [x, x, x, x, x, x, x, x, x]\n  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
		"  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n  g: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
	for _, tc := range []struct {
		name     string
		extra    string
		setup    func(dir string) error
		say      string
		pushOnly bool
	}{
		{"symlink outside", "", func(dir string) error { return os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")) }, "absolute", false},
		{"symlink up", "", func(dir string) error { return os.Symlink("../../x", filepath.Join(dir, "up")) }, "outside", false},
		{"FIFO", "", func(dir string) error { return syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644) }, "named pipe", false},
		{"alias bomb", bomb, nil, "aliasing", false},
		{"OWNERS symlinked from outside", "", func(dir string) error {
			os.Remove(filepath.Join(dir, "OWNERS"))
			return os.Symlink(outside, filepath.Join(dir, "OWNERS"))
		}, "OWNERS", false},
		// A 1 GiB + 1 byte sparse file packs to a few MB, but no pull with
		// the default limits would accept it.
		{"file over the pull limit", "", func(dir string) error {
			f, err := os.Create(filepath.Join(dir, "huge.bin"))
			if err != nil {
				return err
			}
			defer f.Close()
			return f.Truncate(1<<30 + 1)
		}, "1 GiB limit on one file", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := p.path(strings.ReplaceAll(tc.name, " ", "-"))
			writeContribution(t, dir, "contrib", tc.extra, true)
			if tc.setup != nil {
				if err := tc.setup(dir); err != nil {
					t.Fatal(err)
				}
			}
			cmds := [][]string{{"push", dir, "bad-contribution"}}
			if !tc.pushOnly {
				cmds = append(cmds, []string{"validate", dir})
			}
			for _, args := range cmds {
				stderr, code := p.runWith(nil, args...)
				if code != exitInvalid || !strings.Contains(stderr, tc.say) {
					t.Errorf("tierpack %s: exit %d, want %d saying %q:\n%s", args[0], code, exitInvalid, tc.say, stderr)
				}
			}
		})
	}
}

// TestLimitsAreDocumented: the exit code and the flags are in --help.
func TestLimitsAreDocumented(t *testing.T) {
	p := newTP(t)
	for args, want := range map[string][]string{
		"--help":      {"   8    a pulled artifact's content was refused"},
		"pull --help": {"--max-size", "TIERPACK_MAX_SIZE", "--max-file-size", "TIERPACK_MAX_FILE_SIZE", "--max-entries", "TIERPACK_MAX_ENTRIES", "exit 8"},
	} {
		out := p.ok(strings.Fields(args)...)
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("tierpack %s lacks %q", args, w)
			}
		}
	}
}

// tarOf is a tar+gzip layer of the given headers, each regular file
// holding Size bytes.
func tarOf(hdrs ...*tar.Header) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			panic(err)
		}
		tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
	}
	tw.Close()
	return archivetest.Gzip(buf.Bytes())
}

// An unsafe entry that needs two layers to be unsafe, a 5,000-byte entry
// name, and a registry serving a blob that does not match its digest are
// refused content: exit 8, nothing written, as any other refused pull.
func TestHostilePullExitCodesMore(t *testing.T) {
	proxy := faultproxy.New()
	reg := registrytest.New(t, registrytest.WithHandlerWrapper(proxy.Wrap))
	p := newTP(t)
	repo := remoteRepo(t, reg, "hostile/more")
	pushRawScript(t, repo, "two-layers", tarOf(&tar.Header{Typeflag: tar.TypeSymlink, Name: "a", Linkname: ".", Mode: 0o777}),
		tarOf(&tar.Header{Typeflag: tar.TypeReg, Name: "a/b", Mode: 0o644, Size: 1}))
	pushRawScript(t, repo, "long-name", tarOf(&tar.Header{Typeflag: tar.TypeReg, Name: strings.Repeat("n", 5000), Mode: 0o644, Size: 1}))
	pushRawScript(t, repo, "digest", tarOf(&tar.Header{Typeflag: tar.TypeReg, Name: "f", Mode: 0o644, Size: 4096}))
	for _, tc := range []struct {
		tag, want string
		args      []string
	}{
		{"two-layers", `its path passes through "a", which is a symlink`, nil},
		{"long-name", "more than the 4096 a file system takes", nil},
		{"digest", "the registry served other content for blob", []string{"--no-cache"}},
		{"digest", "the registry served other content for blob", nil},
	} {
		t.Run(tc.tag+strings.Join(tc.args, ""), func(t *testing.T) {
			if tc.tag == "digest" {
				proxy.Set(faultproxy.Rule{Kind: faultproxy.Corrupt, Method: "GET", Path: faultproxy.Blob, After: 20})
				defer proxy.Set()
			}
			out := p.path(tc.tag + strings.Join(tc.args, ""))
			stderr, code := p.runWith(nil, append([]string{"pull", "-o", out, reg.Host + "/hostile/more:" + tc.tag}, tc.args...)...)
			if code != exitRefused || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want %d\n%s", code, exitRefused, stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s was written", out)
			}
		})
	}
}
