package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// runEnv runs the real binary in p.dir with env changed: "K=V" sets K,
// "K" alone removes it.
func (p *tp) runEnv(env []string, args ...string) (string, string, int) {
	p.t.Helper()
	base := testEnv(p.t, p.home)
	for _, e := range env {
		k, _, set := strings.Cut(e, "=")
		base = slices.DeleteFunc(base, func(s string) bool { return strings.HasPrefix(s, k+"=") })
		if set {
			base = append(base, e)
		}
	}
	cmd := exec.Command(tierpackBin, args...)
	cmd.Dir = p.dir
	cmd.Env = base
	cmd.Stdin = nil // not a terminal: nobody to ask for a password
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// TestKeyGenerateRefusesEmptyPassword: with no $COSIGN_PASSWORD and no
// terminal, key generate writes nothing and says how to proceed; with
// --no-password it writes an unprotected key on purpose.
func TestKeyGenerateRefusesEmptyPassword(t *testing.T) {
	p := newTP(t)
	_, errs, code := p.runEnv([]string{"COSIGN_PASSWORD"}, "key", "generate", "k")
	if code != exitUsage {
		t.Fatalf("key generate without a password: exit %d, want %d\n%s", code, exitUsage, errs)
	}
	for _, w := range []string{"empty password", "COSIGN_PASSWORD", "--no-password"} {
		if !strings.Contains(errs, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errs)
		}
	}
	for _, f := range []string{"k.key", "k.pub"} {
		if _, err := os.Stat(p.path(f)); err == nil {
			t.Errorf("%s was written", f)
		}
	}
	// An empty $COSIGN_PASSWORD is no password either.
	if _, errs, code := p.runEnv([]string{"COSIGN_PASSWORD="}, "key", "generate", "k"); code != exitUsage {
		t.Fatalf("key generate with COSIGN_PASSWORD empty: exit %d\n%s", code, errs)
	}
	// Both at once is a contradiction.
	if _, errs, code := p.runEnv(nil, "key", "generate", "--no-password", "k"); code != exitUsage || !strings.Contains(errs, "unset one") {
		t.Fatalf("--no-password with COSIGN_PASSWORD set: exit %d\n%s", code, errs)
	}
	// On purpose: the key is written, unencrypted, and signs with an empty password.
	if _, errs, code := p.runEnv([]string{"COSIGN_PASSWORD"}, "key", "generate", "--no-password", "k"); code != 0 {
		t.Fatalf("key generate --no-password: exit %d\n%s", code, errs)
	}
	if st, err := os.Stat(p.path("k.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("k.key: %v, %v", st, err)
	}
}

// TestInvalidReferenceRedactsPassword: credentials typed into a reference
// never appear in the error, in text or JSON.
func TestInvalidReferenceRedactsPassword(t *testing.T) {
	p := newTP(t)
	for _, args := range [][]string{
		{"pull", "alice:s3cret@localhost:5000/app:1.0.0", "-o", p.path("out")},
		{"inspect", "--output", "json", "alice:s3cret@registry.example.com/org/app:1.0.0"},
		{"copy", "alice:s3cret@registry.example.com/org/app:1.0.0", "app:1"},
	} {
		out, errs, code := p.run(args...)
		if code != exitUsage {
			t.Errorf("tierpack %s: exit %d, want %d\n%s", strings.Join(args, " "), code, exitUsage, errs)
		}
		if strings.Contains(out+errs, "s3cret") {
			t.Errorf("tierpack %s shows the password:\n%s%s", strings.Join(args, " "), out, errs)
		}
		if !strings.Contains(errs, "alice:***@") || !strings.Contains(errs, "tierpack login") {
			t.Errorf("tierpack %s: stderr lacks the redacted reference or what to do:\n%s", strings.Join(args, " "), errs)
		}
	}
}
