package sign

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierpack/tierpack/internal/registrytest"
)

// offlineTrustedRoot is an empty Sigstore trusted root. cosign v2.5+
// switches to the bundle format as soon as a manifest has a bundle
// referrer, and then insists on a trusted root, which it fetches by TUF
// unless given one; with --key nothing in it is used, so offline an empty
// one will do.
const offlineTrustedRoot = `{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`

// TestCosign2AndBundles pins down how cosign v2 (bin/cosign, v2.6.5) and
// v3 treat a manifest that has both formats:
//
//   - cosign v2.6.5 verifies tierpack's signature offline given a trusted
//     root (--trusted-root, or COSIGN_TRUSTED_ROOT): it reads the bundle;
//   - once any bundle is there, cosign (v2.6.5 and v3) checks bundles only,
//     so a key that signed only in the legacy format (cosign v2 sign) no
//     longer verifies with cosign, though it does with tierpack.
func TestCosign2AndBundles(t *testing.T) {
	bin, err := exec.LookPath("cosign")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("cosign not on PATH; make test should have installed it")
		}
		t.Skip("cosign not on PATH (make bin/cosign, then PATH=$PWD/bin:$PATH)")
	}
	cosign3 := cosign3(t, t.TempDir())
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "root.json"), []byte(offlineTrustedRoot), 0o644); err != nil {
		t.Fatal(err)
	}
	cosign := func(wantOK bool, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=test-password", "HOME="+dir, "TUF_ROOT="+filepath.Join(dir, "tuf"))
		out, err := cmd.CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("cosign %s: %v (want success %v)\n%s", strings.Join(args, " "), err, wantOK, out)
		}
		return string(out)
	}
	reg := registrytest.New(t)
	store := repo(t, reg, "sign/v2")
	subject := pushSubject(t, store, "v1")
	_, pubA := keyFiles(t, dir, "a")
	signerB, _ := keyFiles(t, dir, "b")
	ref := reg.Ref("sign/v2", subject.Digest.String())
	verifyArgs := func(key string) []string {
		return []string{"verify", "--key", key, "--insecure-ignore-tlog=true", "--allow-http-registry=true", "--trusted-root", "root.json", ref}
	}

	cosign(true, "sign", "--key", "a.key", "--tlog-upload=false", "--allow-http-registry=true", "--yes", ref)
	cosign(true, verifyArgs("a.pub")...)
	if _, err := Sign(ctx, store, reg.Host+"/sign/v2", subject, signerB); err != nil {
		t.Fatal(err)
	}
	cosign(true, verifyArgs("b.pub")...)
	// Offline, without a trusted root, cosign v2.6.5 cannot read bundles.
	cosign(false, "verify", "--key", "b.pub", "--insecure-ignore-tlog=true", "--allow-http-registry=true", ref)
	// a's legacy-only signature is hidden from cosign by b's bundle ...
	cosign(false, verifyArgs("a.pub")...)
	cosign3(false, "verify", "--key", filepath.Join(dir, "a.pub"), "--insecure-ignore-tlog=true", "--allow-http-registry=true", ref)
	// ... not from tierpack.
	if v, err := Verify(ctx, store, subject, []PublicKey{pubA}); err != nil || v.Format != FormatLegacy {
		t.Fatalf("tierpack verify a: %+v %v", v, err)
	}
}
