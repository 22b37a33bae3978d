package archive_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/tierpack/tierpack/sdk/archive"
)

func Example() {
	// A contribution folder with a script and a values file.
	src, err := os.MkdirTemp("", "contribution")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(src)
	if err := os.WriteFile(filepath.Join(src, "install.sh"), []byte("#!/bin/sh\necho installed\n"), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "values.yaml"), []byte("replicas: 1\n"), 0o644); err != nil {
		log.Fatal(err)
	}

	// Package it as a deterministic layer below "chart/".
	var layer bytes.Buffer
	res, err := archive.WriteTarGz(&layer, src, []string{"install.sh", "values.yaml"}, archive.WriteOptions{
		Prefix:  "chart/",
		ModTime: time.Unix(1700000000, 0), // e.g. SOURCE_DATE_EPOCH
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("files:", res.Files, "bytes:", res.Size)

	// Extract it into a fresh staging directory, removing it on failure.
	staging, err := os.MkdirTemp("", "staging")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(staging)
	if err := archive.Extract(context.Background(), &layer, staging, archive.Limits{}); err != nil {
		if errors.Is(err, archive.ErrUnsafeEntry) || errors.Is(err, archive.ErrTooLarge) {
			log.Print("refusing the layer: ", err)
		}
		log.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(staging, "chart", "install.sh"))
	if err != nil {
		log.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(staging, "chart", "install.sh"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %q\n", fi.Mode(), script)
	// Output:
	// files: 2 bytes: 37
	// -rwxr-xr-x "#!/bin/sh\necho installed\n"
}
