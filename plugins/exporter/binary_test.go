package exporter

import (
	"bytes"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// elfOpts describes a synthetic ELF file: a header, and a PT_INTERP
// program header when interp is set.
type elfOpts struct {
	machine elf.Machine
	class   elf.Class
	big     bool
	osabi   elf.OSABI
	typ     elf.Type
	interp  string
}

// fakeELF returns the smallest ELF file debug/elf reads: real toolchains
// cannot cheaply produce every machine and type, and the header is all the
// plugin looks at.
func fakeELF(o elfOpts) []byte {
	if o.class == 0 {
		o.class = elf.ELFCLASS64
	}
	if o.typ == 0 {
		o.typ = elf.ET_EXEC
	}
	var order binary.ByteOrder = binary.LittleEndian
	data := elf.ELFDATA2LSB
	if o.big {
		order, data = binary.BigEndian, elf.ELFDATA2MSB
	}
	var ident [elf.EI_NIDENT]byte
	copy(ident[:], elf.ELFMAG)
	ident[elf.EI_CLASS] = byte(o.class)
	ident[elf.EI_DATA] = byte(data)
	ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	ident[elf.EI_OSABI] = byte(o.osabi)
	var buf bytes.Buffer
	if o.class == elf.ELFCLASS32 {
		binary.Write(&buf, order, elf.Header32{Ident: ident, Type: uint16(o.typ), Machine: uint16(o.machine), Version: 1, Ehsize: 52, Phentsize: 32, Shentsize: 40})
		return buf.Bytes()
	}
	h := elf.Header64{Ident: ident, Type: uint16(o.typ), Machine: uint16(o.machine), Version: 1, Ehsize: 64, Phentsize: 56, Shentsize: 64}
	if o.interp != "" {
		h.Phoff, h.Phnum = 64, 1
	}
	binary.Write(&buf, order, h)
	if o.interp != "" {
		binary.Write(&buf, order, elf.Prog64{Type: uint32(elf.PT_INTERP), Flags: uint32(elf.PF_R), Off: 64 + 56, Filesz: uint64(len(o.interp) + 1), Memsz: uint64(len(o.interp) + 1), Align: 1})
		buf.WriteString(o.interp + "\x00")
	}
	return buf.Bytes()
}

// fakeMachO returns a 64-bit Mach-O header with no load commands.
func fakeMachO(cpu macho.Cpu, typ macho.Type) []byte {
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, macho.FileHeader{Magic: macho.Magic64, Cpu: cpu, Type: typ})
	buf.Write(make([]byte, 4)) // the 64-bit header's reserved word
	return buf.Bytes()
}

// fakePE returns a DOS stub pointing at a PE header with no sections.
func fakePE(machine, characteristics uint16) []byte {
	b := make([]byte, 0x40)
	copy(b, "MZ")
	binary.LittleEndian.PutUint32(b[0x3c:], 0x40)
	buf := bytes.NewBuffer(b)
	buf.WriteString("PE\x00\x00")
	binary.Write(buf, binary.LittleEndian, pe.FileHeader{Machine: machine, Characteristics: characteristics})
	buf.Write(make([]byte, 64)) // debug/pe reads a 96-byte DOS header
	return buf.Bytes()
}

const peExe = pe.IMAGE_FILE_EXECUTABLE_IMAGE

func TestInspectBinary(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    []byte
		format  string
		arches  []string
		oses    []string
		notExec string
		interp  string
		err     string
	}{
		{name: "elf amd64", data: fakeELF(elfOpts{machine: elf.EM_X86_64}), format: "ELF", arches: []string{"amd64"}},
		{name: "elf arm64", data: fakeELF(elfOpts{machine: elf.EM_AARCH64}), format: "ELF", arches: []string{"arm64"}},
		{name: "elf arm", data: fakeELF(elfOpts{machine: elf.EM_ARM, class: elf.ELFCLASS32}), format: "ELF", arches: []string{"arm"}},
		{name: "elf s390x", data: fakeELF(elfOpts{machine: elf.EM_S390, big: true}), format: "ELF", arches: []string{"s390x"}},
		{name: "elf ppc64 big-endian", data: fakeELF(elfOpts{machine: elf.EM_PPC64, big: true}), format: "ELF", arches: []string{"ppc64"}},
		{name: "elf mipsle", data: fakeELF(elfOpts{machine: elf.EM_MIPS, class: elf.ELFCLASS32}), format: "ELF", arches: []string{"mipsle"}},
		{name: "elf sparc", data: fakeELF(elfOpts{machine: elf.EM_SPARCV9}), format: "ELF", arches: nil},
		{name: "elf freebsd", data: fakeELF(elfOpts{machine: elf.EM_X86_64, osabi: elf.ELFOSABI_FREEBSD}), format: "ELF", arches: []string{"amd64"}, oses: []string{"freebsd"}},
		{name: "elf gnu/linux", data: fakeELF(elfOpts{machine: elf.EM_X86_64, osabi: elf.ELFOSABI_LINUX}), format: "ELF", arches: []string{"amd64"}, oses: []string{"linux"}},
		{name: "elf object", data: fakeELF(elfOpts{machine: elf.EM_X86_64, typ: elf.ET_REL}), format: "ELF", arches: []string{"amd64"}, notExec: "an object file"},
		{name: "elf shared library", data: fakeELF(elfOpts{machine: elf.EM_X86_64, typ: elf.ET_DYN}), format: "ELF", arches: []string{"amd64"}, notExec: "a shared library"},
		{name: "elf pie", data: fakeELF(elfOpts{machine: elf.EM_X86_64, typ: elf.ET_DYN, interp: "/lib64/ld-linux-x86-64.so.2"}), format: "ELF", arches: []string{"amd64"}, interp: "/lib64/ld-linux-x86-64.so.2"},
		{name: "elf core", data: fakeELF(elfOpts{machine: elf.EM_X86_64, typ: elf.ET_CORE}), format: "ELF", arches: []string{"amd64"}, notExec: "a core dump"},
		{name: "macho arm64", data: fakeMachO(macho.CpuArm64, macho.TypeExec), format: "Mach-O", arches: []string{"arm64"}, oses: []string{"darwin", "ios"}},
		{name: "macho dylib", data: fakeMachO(macho.CpuAmd64, macho.TypeDylib), format: "Mach-O", arches: []string{"amd64"}, oses: []string{"darwin", "ios"}, notExec: "a dynamic library"},
		{name: "pe amd64", data: fakePE(pe.IMAGE_FILE_MACHINE_AMD64, peExe), format: "PE", arches: []string{"amd64"}, oses: []string{"windows"}},
		{name: "pe dll", data: fakePE(pe.IMAGE_FILE_MACHINE_ARM64, peExe|pe.IMAGE_FILE_DLL), format: "PE", arches: []string{"arm64"}, oses: []string{"windows"}, notExec: "a DLL"},
		{name: "pe object", data: fakePE(pe.IMAGE_FILE_MACHINE_I386, 0), format: "PE", arches: []string{"386"}, oses: []string{"windows"}, notExec: "an object file"},
		{name: "text", data: []byte("hello\n"), err: "is a text file, not an executable binary"},
		{name: "script", data: []byte("#!/bin/sh\necho hi\n"), err: "is a script (#!/bin/sh), not a compiled binary"},
		{name: "empty", data: nil, err: "is empty"},
		{name: "random bytes", data: []byte{0, 1, 2, 3, 0xff, 0xfe}, err: "has no ELF, Mach-O or PE header"},
		{name: "truncated elf", data: []byte(elf.ELFMAG + "\x02\x01"), err: "has a corrupt ELF header"},
		{name: "java class", data: []byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52}, err: "has no ELF, Mach-O or PE header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := inspectBinary(bytes.NewReader(tc.data))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.Format != tc.format || !slices.Equal(info.Arches, tc.arches) || !slices.Equal(info.OSes, tc.oses) {
				t.Errorf("got format %s arches %v oses %v, want %s %v %v", info.Format, info.Arches, info.OSes, tc.format, tc.arches, tc.oses)
			}
			if !strings.HasPrefix(info.NotExecutable, tc.notExec) || (tc.notExec == "") != (info.NotExecutable == "") {
				t.Errorf("NotExecutable = %q, want %q", info.NotExecutable, tc.notExec)
			}
			if info.Interpreter != tc.interp {
				t.Errorf("Interpreter = %q, want %q", info.Interpreter, tc.interp)
			}
		})
	}
}

// TestInspectRealBinary reads the test binary itself: a real executable of
// this platform, with Go build information.
func TestInspectRealBinary(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := inspectBinary(f)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(info.Arches, runtime.GOARCH) || info.NotExecutable != "" {
		t.Errorf("the test binary reads as %+v, want an executable for %s", info, runtime.GOARCH)
	}
	if info.Go["GOOS"] != runtime.GOOS || info.Go["GOARCH"] != runtime.GOARCH {
		t.Errorf("Go build info %v, want GOOS=%s GOARCH=%s", info.Go, runtime.GOOS, runtime.GOARCH)
	}
}
