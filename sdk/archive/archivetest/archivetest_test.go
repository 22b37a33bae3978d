package archivetest

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
)

// TestPAXSparseExpands: archive/tar reads the hand-made headers as a sparse
// file of the real size, as the hostile archives in issue 12 were.
func TestPAXSparseExpands(t *testing.T) {
	tr := tar.NewReader(bytes.NewReader(PAXSparse("big", 1<<20)))
	hdr, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Name != "big" || hdr.Size != 1<<20 || hdr.PAXRecords["GNU.sparse.major"] != "1" {
		t.Fatalf("header %+v", hdr)
	}
	n, err := io.Copy(io.Discard, tr)
	if err != nil || n != 1<<20 {
		t.Fatalf("read %d, %v", n, err)
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Fatalf("after the file: %v", err)
	}
}
