// Package archivetest builds hostile tar streams, for tests of code that
// extracts archives: tierpack's own (the sdk, the host, the CLI) and a
// plugin's Unpack. Every function panics on an internal error, which only a
// bug here can cause.
package archivetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"strconv"
)

// File is one regular file of a tar stream built by Tar.
type File struct {
	Name string
	// Mode is the full tar mode, setuid and other bits included.
	Mode int64
	Body []byte
}

// Tar returns a complete, uncompressed tar stream holding files, in order.
func Tar(files ...File) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.Name, Mode: f.Mode, Size: int64(len(f.Body)), Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			panic(err)
		}
		if _, err := tw.Write(f.Body); err != nil {
			panic(err)
		}
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		panic(err)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// PAXSparse returns a complete tar stream of about 2 KiB holding one PAX
// GNU sparse 1.0 file, name, of realSize bytes: all of it a hole but its
// last byte. archive/tar expands such a file to realSize bytes of content
// as it is read, and writing one cannot be done with archive/tar, which
// drops GNU.sparse.* records; so the headers are written by hand.
func PAXSparse(name string, realSize int64) []byte {
	// The sparse map, in the data: one entry (offset, length).
	sparseMap := fmt.Sprintf("1\n%d\n1\n", realSize-1)
	data := pad([]byte(sparseMap))
	data = append(data, 'x')
	pax := paxRecords([][2]string{
		{"GNU.sparse.major", "1"},
		{"GNU.sparse.minor", "0"},
		{"GNU.sparse.name", name},
		{"GNU.sparse.realsize", strconv.FormatInt(realSize, 10)},
	})
	var out []byte
	out = append(out, header("PaxHeaders/sparse", 'x', int64(len(pax)))...)
	out = append(out, pad(pax)...)
	out = append(out, header("GNUSparseFile.0/"+name, '0', int64(len(data)))...)
	out = append(out, pad(data)...)
	return append(out, make([]byte, 1024)...) // end of archive
}

// paxRecords encodes PAX records: "LEN KEY=VALUE\n", LEN counting itself.
func paxRecords(recs [][2]string) []byte {
	var b []byte
	for _, kv := range recs {
		rec := " " + kv[0] + "=" + kv[1] + "\n"
		n := len(rec)
		for len(strconv.Itoa(n+len(strconv.Itoa(n)))) != len(strconv.Itoa(n)) {
			n++
		}
		n += len(strconv.Itoa(n))
		b = append(b, strconv.Itoa(n)+rec...)
	}
	return b
}

// header returns a USTAR header block.
func header(name string, typeflag byte, size int64) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	copy(b[100:108], "0000644\x00")
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], fmt.Sprintf("%011o\x00", size))
	copy(b[136:148], "00000000000\x00")
	b[156] = typeflag
	copy(b[257:263], "ustar\x00")
	copy(b[263:265], "00")
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// pad pads b with zeros to a whole number of 512-byte blocks.
func pad(b []byte) []byte {
	if r := len(b) % 512; r != 0 {
		b = append(b, make([]byte, 512-r)...)
	}
	return b
}
