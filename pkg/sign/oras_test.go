package sign

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/tierpack/tierpack/internal/registrytest"
)

// TestOrasCopyCarriesBundle: after the real ORAS CLI's
//
//	oras cp -r --from-plain-http --to-plain-http SRC DST
//
// (`make test` installs bin/oras) a tierpack-signed artifact verifies on
// DST: the bundle referrer travelled, though the legacy .sig tag did not.
// DST is Distribution and go-containerregistry's registry in turn.
func TestOrasCopyCarriesBundle(t *testing.T) {
	orasBin, err := exec.LookPath("oras")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("oras not on PATH; make test should have installed it")
		}
		t.Skip("oras not on PATH (make bin/oras, then PATH=$PWD/bin:$PATH)")
	}
	ctx := context.Background()
	src := registrytest.New(t)
	store := repo(t, src, "oras/src")
	subject := pushSubject(t, store, "v1")
	signer, pub := keyFiles(t, t.TempDir(), "k")
	if _, err := Sign(ctx, store, src.Host+"/oras/src", subject, signer); err != nil {
		t.Fatal(err)
	}
	for _, r := range registries {
		t.Run(r.name, func(t *testing.T) {
			dst := r.start(t)
			cmd := exec.Command(orasBin, "cp", "-r", "--from-plain-http", "--to-plain-http", src.Ref("oras/src", "v1"), dst.Ref("oras/dst", "v1"))
			cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("oras cp -r: %v\n%s", err, out)
			}
			copied := repo(t, dst, "oras/dst")
			if _, err := copied.Resolve(ctx, SignatureTag(subject.Digest)); err == nil {
				t.Fatal("oras cp -r copied the legacy .sig tag; this test expects it not to")
			}
			v, err := Verify(ctx, copied, subject, []PublicKey{pub})
			if err != nil || v.Format != FormatBundle || v.KeyID != pub.ID {
				t.Fatalf("verify after oras cp -r: %+v %v", v, err)
			}
		})
	}
}
