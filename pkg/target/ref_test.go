package target

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Ref
	}{
		{"hello:0.1.0", Ref{Kind: Local, Repository: "hello", Tag: "0.1.0"}},
		{"falco/hello", Ref{Kind: Local, Repository: "falco/hello"}},
		{"hello@sha256:" + sixtyFour, Ref{Kind: Local, Repository: "hello", Digest: "sha256:" + sixtyFour}},
		{"ghcr.io/org/x:1.0.0", Ref{Kind: Remote, Registry: "ghcr.io", Repository: "org/x", Tag: "1.0.0"}},
		{"localhost:5000/x", Ref{Kind: Remote, Registry: "localhost:5000", Repository: "x"}},
		{"localhost/x:1", Ref{Kind: Remote, Registry: "localhost", Repository: "x", Tag: "1"}},
		{"127.0.0.1:5000/a/b@sha256:" + sixtyFour, Ref{Kind: Remote, Registry: "127.0.0.1:5000", Repository: "a/b", Digest: "sha256:" + sixtyFour}},
		{"oci:./store:1.0.0", Ref{Kind: Layout, Path: "./store", Tag: "1.0.0"}},
		{"oci:/tmp/a:b/store", Ref{Kind: Layout, Path: "/tmp/a:b/store"}},
		{"oci:store@sha256:" + sixtyFour, Ref{Kind: Layout, Path: "store", Digest: "sha256:" + sixtyFour}},
		{"oci:C:\\x", Ref{Kind: Layout, Path: "C:\\x"}},
	} {
		got, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if got.String() != tc.in && tc.in[:4] != "oci:" {
			t.Errorf("Parse(%q).String() = %q", tc.in, got.String())
		}
	}
}

const sixtyFour = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func TestParseInvalid(t *testing.T) {
	for _, in := range []string{"", "Hello:1", "hello:bad tag", "ghcr.io/Org/x", "oci:", "oci:x:bad tag", "oci:x@sha256:nothex", "a//b"} {
		if _, err := Parse(in); !errors.Is(err, ErrInvalidReference) {
			t.Errorf("Parse(%q) err = %v, want ErrInvalidReference", in, err)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for in, want := range map[string]bool{
		"localhost:5000": true, "127.0.0.1:5000": true, "[::1]:5000": true, "127.1.2.3": true,
		"ghcr.io": false, "10.0.0.1:5000": false, "registry.localhost": true,
	} {
		if got := IsLoopback(in); got != want {
			t.Errorf("IsLoopback(%q) = %v", in, got)
		}
	}
}

func TestLayoutLockIsBounded(t *testing.T) {
	old := lockWait
	lockWait = 100 * time.Millisecond
	defer func() { lockWait = old }()
	dir := t.TempDir()
	ref := Ref{Kind: Layout, Path: dir, Tag: "x"}
	a, err := Open(context.Background(), ref, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := Open(context.Background(), ref, Options{}); err == nil || !strings.Contains(err.Error(), "locked by another tierpack command") {
		t.Fatalf("second writer: %v", err)
	}
	a.Close()
	b, err := Open(context.Background(), ref, Options{})
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	b.Close()
}
