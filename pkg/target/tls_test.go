package target

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/tierpack/tierpack/internal/registrytest"
)

// ping opens ref's repository with opts and lists its tags: enough to
// make the TLS handshake and the auth challenge happen.
func ping(t *testing.T, ref string, opts Options) error {
	t.Helper()
	r, err := Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Credentials == nil {
		opts.Credentials = credentials.NewMemoryStore()
	}
	tg, err := Open(context.Background(), r, opts)
	if err != nil {
		return err
	}
	defer tg.Close()
	err = tg.Remote().Tags(context.Background(), "", func([]string) error { return nil })
	var er *errcode.ErrorResponse
	if errors.As(err, &er) && er.StatusCode == http.StatusNotFound {
		return nil // reached and authorised: the repository is empty
	}
	return err
}

// TestTLSRegistry: a TLS registry with a CA generated in the test, on
// loopback. Plain HTTP (the loopback default) gets the "speaks TLS" hint;
// TLS without the CA names the certificate problem; the CA from the flag
// or from registries.yaml works; insecure works and warns.
func TestTLSRegistry(t *testing.T) {
	reg := registrytest.New(t, registrytest.WithTLS())
	ref := reg.Ref("tls/x", "")

	err := ping(t, ref, Options{})
	var tlsReq *TLSRequiredError
	// The library says what is wrong, typed and in no CLI's words; the
	// command line adds the flags (registry_tls.txtar).
	if !errors.As(err, &tlsReq) || !strings.Contains(err.Error(), "this registry speaks TLS") || strings.Contains(err.Error(), "--") ||
		!strings.Contains(err.Error(), reg.Host) {
		t.Fatalf("plain HTTP to a TLS registry: %v, want TLSRequiredError", err)
	}

	err = ping(t, ref, Options{ForceTLS: true})
	var certErr *CertificateError
	if !errors.As(err, &certErr) || !strings.Contains(err.Error(), "unknown authority") ||
		strings.Contains(err.Error(), "/v2/") {
		t.Fatalf("TLS without the CA: %v, want a CertificateError naming the cause, without the URL", err)
	}

	if err := ping(t, ref, Options{CAFile: reg.CAFile}); err != nil {
		t.Fatalf("with --ca-file: %v", err)
	}
	regs := Registries{reg.Host: {CAFile: reg.CAFile}}
	if err := ping(t, ref, Options{Registries: regs}); err != nil {
		t.Fatalf("with ca-file in registries.yaml: %v", err)
	}
	if err := ping(t, ref, Options{Registries: regs, PlainHTTP: true}); !errors.As(err, &tlsReq) {
		t.Fatalf("--plain-http overrides the file: %v, want TLSRequiredError", err)
	}
	var warned []string
	warn := func(f string, a ...any) { warned = append(warned, f) }
	if err := ping(t, ref, Options{Insecure: true, Warn: warn}); err != nil {
		t.Fatalf("with --insecure: %v", err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "not verifying") {
		t.Fatalf("--insecure warned %q", warned)
	}

	// A plain-HTTP registry reached over TLS says so too.
	plain := registrytest.New(t)
	var plainReq *PlainHTTPRequiredError
	if err := ping(t, plain.Ref("x", ""), Options{ForceTLS: true}); !errors.As(err, &plainReq) || !strings.Contains(err.Error(), "speaks plain HTTP") {
		t.Fatalf("TLS to a plain registry: %v, want PlainHTTPRequiredError", err)
	}
}

// TestMutualTLSRegistry: a registry that requires a client certificate
// refuses one without, with a hint, and accepts the test's certificate
// given as flags or in registries.yaml; basic auth still applies on top.
func TestMutualTLSRegistry(t *testing.T) {
	reg := registrytest.New(t, registrytest.WithMutualTLS(), registrytest.WithBasicAuth("alice", "s3cret"))
	ref := reg.Ref("mtls/x", "")

	err := ping(t, ref, Options{CAFile: reg.CAFile})
	var ce *ClientCertError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "client certificate") {
		t.Fatalf("without a client certificate: %v, want ClientCertError", err)
	}
	store := credentials.NewMemoryStore()
	if err := store.Put(context.Background(), reg.Host, auth.Credential{Username: "alice", Password: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	if err := ping(t, ref, Options{CAFile: reg.CAFile, CertFile: reg.ClientCertFile, KeyFile: reg.ClientKeyFile, Credentials: store}); err != nil {
		t.Fatalf("with the client certificate: %v", err)
	}
	regs := Registries{reg.Host: {CAFile: reg.CAFile, CertFile: reg.ClientCertFile, KeyFile: reg.ClientKeyFile}}
	if err := ping(t, ref, Options{Registries: regs, Credentials: store}); err != nil {
		t.Fatalf("with registries.yaml: %v", err)
	}
	// One command's credentials (-u/--password-stdin) for this host only.
	static := Options{Registries: regs, Credential: auth.Credential{Username: "alice", Password: "s3cret"}, CredentialHosts: []string{reg.Host}}
	if err := ping(t, ref, static); err != nil {
		t.Fatalf("with a static credential: %v", err)
	}
	static.CredentialHosts = []string{"other.example:5000"}
	if err := ping(t, ref, static); err == nil {
		t.Fatal("a static credential for another host was sent to this one")
	}
}

// TestUnreachable: network errors name the registry and the cause, not a
// request URL.
func TestUnreachable(t *testing.T) {
	err := ping(t, "nonexistent.invalid:5000/x/y", Options{})
	var ue *UnreachableError
	if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), "cannot reach nonexistent.invalid:5000: no such host") {
		t.Fatalf("got %v, want `cannot reach nonexistent.invalid:5000: no such host`", err)
	}
	reg := registrytest.New(t)
	host := reg.Host
	reg.Close()
	err = ping(t, host+"/x/y", Options{})
	if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), "cannot reach "+host+": connection refused") {
		t.Fatalf("got %v, want `cannot reach %s: connection refused`", err, host)
	}
}

// TestLoadRegistries: the file's format, relative paths, and mistakes
// refused with what to write instead.
func TestLoadRegistries(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "registries.yaml")
	if r, err := LoadRegistries(p); err != nil || r != nil {
		t.Fatalf("missing file: %v, %v", r, err)
	}
	write := func(s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("registries:\n  127.0.0.1:5443:\n    ca-file: certs/ca.pem\n    cert-file: /abs/c.pem\n    key-file: c.key\n  ghcr.io:\n    mirror: 127.0.0.1:5000\n  lab.internal:\n    plain-http: true\n")
	r, err := LoadRegistries(p)
	if err != nil {
		t.Fatal(err)
	}
	if s := r["127.0.0.1:5443"]; s.CAFile != filepath.Join(dir, "certs/ca.pem") || s.CertFile != "/abs/c.pem" || s.KeyFile != filepath.Join(dir, "c.key") {
		t.Errorf("paths: %+v", s)
	}
	if !usesPlainHTTP("lab.internal", Options{Registries: r}.Settings("lab.internal")) || usesPlainHTTP("127.0.0.1:5443", Options{Registries: r}.Settings("127.0.0.1:5443")) {
		t.Error("plain-http / TLS implied by ca-file")
	}
	if !usesPlainHTTP("127.0.0.1:5000", Options{}.Settings("127.0.0.1:5000")) || usesPlainHTTP("127.0.0.1:5000", Options{ForceTLS: true}.Settings("127.0.0.1:5000")) {
		t.Error("loopback default / --force-tls")
	}
	if r["ghcr.io"].Mirror != "127.0.0.1:5000" {
		t.Errorf("mirror: %+v", r["ghcr.io"])
	}
	for bad, want := range map[string]string{
		"registries:\n  x.io:\n    cafile: a\n":                        "field cafile not found",
		"registries:\n  x.io/repo:\n    insecure: true\n":              "not a registry host",
		"registries:\n  x.io:\n    cert-file: a\n":                     "go together",
		"registries:\n  x.io:\n    plain-http: true\n    ca-file: a\n": "plain-http excludes",
	} {
		write(bad)
		if _, err := LoadRegistries(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", bad, err, want)
		}
	}
}

// TestMirror: with a mirror for a host, reads go to the mirror and writes
// to the host itself.
func TestMirror(t *testing.T) {
	origin := registrytest.New(t)
	mirror := registrytest.New(t)
	opts := Options{Registries: Registries{origin.Host: {Mirror: mirror.Host}}, Credentials: credentials.NewMemoryStore()}
	r, _ := Parse(origin.Ref("m/x", "1"))
	for _, ro := range []bool{true, false} {
		opts.ReadOnly = ro
		tg, err := Open(context.Background(), r, opts)
		if err != nil {
			t.Fatal(err)
		}
		want := origin.Host
		if ro {
			want = mirror.Host
		}
		if got := tg.Remote().Reference.Registry; got != want {
			t.Errorf("read-only %v: talks to %s, want %s", ro, got, want)
		}
		if tg.Ref.Registry != origin.Host {
			t.Errorf("the target's reference changed to %s", tg.Ref)
		}
	}
}

// TestParseRefusesHost: `push DIR ghcr.io` (the repository forgotten)
// must not store "ghcr.io:0.1.0" in the local store.
func TestParseRefusesHost(t *testing.T) {
	for _, in := range []string{"ghcr.io", "ghcr.io:0.1.0", "localhost:5000", "127.0.0.1:5000", "registry.example.com", "myreg.example:5000"} {
		_, err := Parse(in)
		if !errors.Is(err, ErrInvalidReference) || !strings.Contains(err.Error(), "looks like a registry host") || !strings.Contains(err.Error(), "/ORG/NAME") {
			t.Errorf("Parse(%q) = %v, want refused as a registry host", in, err)
		}
	}
	for _, in := range []string{"falco.rules:1.0.0", "install.sh", "my-script:0.1.0", "falco/hello"} {
		if _, err := Parse(in); err != nil {
			t.Errorf("Parse(%q): %v", in, err)
		}
	}
}
