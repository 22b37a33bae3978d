package artifact

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tierpack/tierpack/pkg/oci"
)

// TestPullResolved checks that a pull given PullOptions.Resolved unpacks
// exactly the artifact resolved (and checked) before, even when the tag
// has moved since.
func TestPullResolved(t *testing.T) {
	ctx := context.Background()
	pm := manager(t)
	tg := openLayout(t, filepath.Join(t.TempDir(), "layout"), "1.0.0")

	first := contribution(t, "repository")
	if _, err := oci.PushBlobs(ctx, tg.Store, pack(t, pm, first, PackOptions{}).Blobs, "1.0.0", oci.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	plat := oci.CurrentPlatform()
	info, err := Resolve(ctx, tg, &plat)
	if err != nil {
		t.Fatal(err)
	}

	second := contribution(t, "repository")
	if err := os.WriteFile(filepath.Join(second, "README.md"), []byte("moved\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	moved := pack(t, pm, second, PackOptions{})
	if _, err := oci.PushBlobs(ctx, tg.Store, moved.Blobs, "1.0.0", oci.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	if moved.Root.Digest == info.Root().Digest {
		t.Fatal("the second artifact has the first one's digest")
	}

	out := filepath.Join(t.TempDir(), "out")
	res, err := Pull(ctx, pm, tg, PullOptions{OutputDir: out, Resolved: info})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(first, "README.md"))
	got, _ := os.ReadFile(filepath.Join(out, "README.md"))
	if string(got) != string(want) || res.Info.Digest != info.Digest {
		t.Fatalf("pulled README %q (artifact %s), want the resolved artifact's %q (%s)", got, res.Info.Digest, want, info.Digest)
	}
}
