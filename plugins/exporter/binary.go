package exporter

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// binaryInfo is what an executable's header says about the platform it runs
// on.
type binaryInfo struct {
	// Format is "ELF", "Mach-O" or "PE".
	Format string
	// OSes lists the GOOS values the header allows; empty when the header
	// cannot tell (an ELF file with the System V OS ABI runs on Linux and
	// on several BSDs).
	OSes []string
	// Arches lists the GOARCH values the file holds code for: one, except
	// for a Mach-O universal binary.
	Arches []string
	// Machine names the CPU for messages, e.g. "x86-64 (amd64)".
	Machine string
	// NotExecutable, when set, says what the file is instead of an
	// executable ("a shared library", "an object file").
	NotExecutable string
	// Interpreter is an ELF executable's dynamic loader; empty when it is
	// statically linked.
	Interpreter string
	// Go holds the GOOS, GOARCH, GOARM and CGO_ENABLED build settings of a
	// Go binary; nil for other binaries.
	Go map[string]string
}

// errNotBinary is returned by inspectBinary for a file that has none of
// the executable formats' headers. Its message describes the file.
type errNotBinary struct{ what string }

func (e errNotBinary) Error() string { return e.what }

// inspectBinary reads the header of an ELF, Mach-O or PE file. A file in
// none of these formats gives an errNotBinary saying what it looks like
// instead; a truncated or corrupt header gives another error.
func inspectBinary(r io.ReaderAt) (binaryInfo, error) {
	var head [512]byte
	n, err := r.ReadAt(head[:], 0)
	if err != nil && err != io.EOF {
		return binaryInfo{}, err
	}
	h := head[:n]
	var info binaryInfo
	switch {
	case bytes.HasPrefix(h, []byte(elf.ELFMAG)):
		info, err = inspectELF(r)
	case len(h) >= 4 && isMachO(binary.BigEndian.Uint32(h)):
		info, err = inspectMachO(r)
	case len(h) >= 4 && isFatMachO(h):
		info, err = inspectFatMachO(r)
	case bytes.HasPrefix(h, []byte("MZ")):
		info, err = inspectPE(r)
	default:
		return binaryInfo{}, errNotBinary{describeNonBinary(h)}
	}
	if err != nil {
		return binaryInfo{}, fmt.Errorf("has a corrupt %s header: %w", formatOf(h), err)
	}
	if bi, err := buildinfo.Read(r); err == nil {
		info.Go = map[string]string{}
		for _, s := range bi.Settings {
			switch s.Key {
			case "GOOS", "GOARCH", "GOARM", "CGO_ENABLED":
				info.Go[s.Key] = s.Value
			}
		}
	}
	return info, nil
}

func formatOf(h []byte) string {
	switch {
	case bytes.HasPrefix(h, []byte(elf.ELFMAG)):
		return "ELF"
	case bytes.HasPrefix(h, []byte("MZ")):
		return "PE"
	}
	return "Mach-O"
}

// describeNonBinary says what a file that is not an executable looks like.
func describeNonBinary(h []byte) string {
	switch {
	case len(h) == 0:
		return "is empty, not an executable binary"
	case bytes.HasPrefix(h, []byte("#!")):
		line, _, _ := bytes.Cut(h, []byte("\n"))
		return fmt.Sprintf("is a script (%s), not a compiled binary: exporter images hold no interpreter to run it", strings.TrimSpace(string(line)))
	case utf8.Valid(h) && !bytes.ContainsRune(h, 0):
		return "is a text file, not an executable binary (ELF, Mach-O or PE)"
	}
	return "is not an executable binary: it has no ELF, Mach-O or PE header"
}

func isMachO(magic uint32) bool {
	switch magic {
	case macho.Magic32, macho.Magic64, 0xcefaedfe, 0xcffaedfe: // and their byte-swapped forms
		return true
	}
	return false
}

// isFatMachO tells a Mach-O universal binary from a Java class file, which
// shares its magic number: a class file has a major version of 45 or more
// where a universal binary has its (small) count of architectures.
func isFatMachO(h []byte) bool {
	return len(h) >= 8 && binary.BigEndian.Uint32(h) == macho.MagicFat && binary.BigEndian.Uint32(h[4:]) < 20
}

// elfMachines maps ELF machines to GOARCH, for the 64-bit (or only) class
// and little endianness; elfArch adjusts for the others.
var elfMachines = map[elf.Machine]string{
	elf.EM_X86_64:    "amd64",
	elf.EM_386:       "386",
	elf.EM_AARCH64:   "arm64",
	elf.EM_ARM:       "arm",
	elf.EM_PPC64:     "ppc64le",
	elf.EM_S390:      "s390x",
	elf.EM_RISCV:     "riscv64",
	elf.EM_MIPS:      "mips64le",
	elf.EM_LOONGARCH: "loong64",
}

func elfArch(f *elf.File) string {
	arch, ok := elfMachines[f.Machine]
	if !ok {
		return ""
	}
	big := f.Data == elf.ELFDATA2MSB
	switch f.Machine {
	case elf.EM_PPC64:
		if big {
			arch = "ppc64"
		}
	case elf.EM_MIPS:
		switch {
		case f.Class == elf.ELFCLASS32 && big:
			arch = "mips"
		case f.Class == elf.ELFCLASS32:
			arch = "mipsle"
		case big:
			arch = "mips64"
		}
	case elf.EM_RISCV:
		if f.Class != elf.ELFCLASS64 {
			return ""
		}
	}
	return arch
}

// elfOSABIs maps the ELF OS ABIs that name one system to GOOS.
var elfOSABIs = map[elf.OSABI]string{
	elf.ELFOSABI_LINUX:   "linux",
	elf.ELFOSABI_FREEBSD: "freebsd",
	elf.ELFOSABI_NETBSD:  "netbsd",
	elf.ELFOSABI_OPENBSD: "openbsd",
	elf.ELFOSABI_SOLARIS: "solaris",
}

// elfOSes are the systems whose executables are ELF files.
var elfOSes = []string{"linux", "freebsd", "netbsd", "openbsd", "dragonfly", "solaris", "illumos", "android"}

func inspectELF(r io.ReaderAt) (binaryInfo, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return binaryInfo{}, err
	}
	defer f.Close()
	info := binaryInfo{Format: "ELF"}
	if arch := elfArch(f); arch != "" {
		info.Arches = []string{arch}
		info.Machine = fmt.Sprintf("%s (%s)", cpuName(arch), arch)
	} else {
		info.Machine = fmt.Sprintf("%s (%s-bit)", f.Machine, strings.TrimPrefix(f.Class.String(), "ELFCLASS"))
	}
	if os, ok := elfOSABIs[f.OSABI]; ok {
		info.OSes = []string{os}
		if os == "solaris" {
			info.OSes = append(info.OSes, "illumos")
		}
	} else if f.OSABI == elf.ELFOSABI_NONE {
		// System V: Linux, and BSDs that mark their binaries with a note.
		switch {
		case f.Section(".note.netbsd.ident") != nil:
			info.OSes = []string{"netbsd"}
		case f.Section(".note.openbsd.ident") != nil:
			info.OSes = []string{"openbsd"}
		}
	} else {
		info.OSes = []string{strings.ToLower(strings.TrimPrefix(f.OSABI.String(), "ELFOSABI_"))}
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(io.LimitReader(p.Open(), 4096))
			if err == nil {
				info.Interpreter = strings.TrimRight(string(b), "\x00")
			}
		}
	}
	switch f.Type {
	case elf.ET_EXEC:
	case elf.ET_DYN:
		// Position-independent executables are ET_DYN like shared
		// libraries; they have a loader or the PIE flag.
		if info.Interpreter == "" && !elfIsPIE(f) {
			info.NotExecutable = "a shared library"
		}
	case elf.ET_REL:
		info.NotExecutable = "an object file (.o), not a linked executable"
	case elf.ET_CORE:
		info.NotExecutable = "a core dump"
	default:
		info.NotExecutable = fmt.Sprintf("an ELF file of type %s", f.Type)
	}
	return info, nil
}

func elfIsPIE(f *elf.File) bool {
	flags, err := f.DynValue(elf.DT_FLAGS_1)
	if err != nil {
		return false
	}
	for _, v := range flags {
		if elf.DynFlag1(v)&elf.DF_1_PIE != 0 {
			return true
		}
	}
	return false
}

var machoCPUs = map[macho.Cpu]string{
	macho.CpuAmd64: "amd64",
	macho.CpuArm64: "arm64",
	macho.Cpu386:   "386",
	macho.CpuArm:   "arm",
	macho.CpuPpc64: "ppc64",
}

func machoType(t macho.Type) string {
	switch t {
	case macho.TypeExec:
		return ""
	case macho.TypeDylib:
		return "a dynamic library (.dylib)"
	case macho.TypeBundle:
		return "a bundle (loadable plugin)"
	case macho.TypeObj:
		return "an object file (.o), not a linked executable"
	}
	return fmt.Sprintf("a Mach-O file of type %s", t)
}

func machoInfo(cpus []macho.Cpu) binaryInfo {
	info := binaryInfo{Format: "Mach-O", OSes: []string{"darwin", "ios"}}
	var names []string
	for _, c := range cpus {
		if arch, ok := machoCPUs[c]; ok {
			info.Arches = append(info.Arches, arch)
			names = append(names, fmt.Sprintf("%s (%s)", cpuName(arch), arch))
		} else {
			names = append(names, c.String())
		}
	}
	info.Machine = strings.Join(names, " + ")
	return info
}

func inspectMachO(r io.ReaderAt) (binaryInfo, error) {
	f, err := macho.NewFile(r)
	if err != nil {
		return binaryInfo{}, err
	}
	defer f.Close()
	info := machoInfo([]macho.Cpu{f.Cpu})
	info.NotExecutable = machoType(f.Type)
	return info, nil
}

func inspectFatMachO(r io.ReaderAt) (binaryInfo, error) {
	f, err := macho.NewFatFile(r)
	if err != nil {
		return binaryInfo{}, err
	}
	defer f.Close()
	var cpus []macho.Cpu
	for _, a := range f.Arches {
		cpus = append(cpus, a.Cpu)
	}
	info := machoInfo(cpus)
	if len(f.Arches) > 0 {
		info.NotExecutable = machoType(f.Arches[0].Type)
	}
	return info, nil
}

var peMachines = map[uint16]string{
	pe.IMAGE_FILE_MACHINE_AMD64: "amd64",
	pe.IMAGE_FILE_MACHINE_I386:  "386",
	pe.IMAGE_FILE_MACHINE_ARM64: "arm64",
	pe.IMAGE_FILE_MACHINE_ARMNT: "arm",
}

func inspectPE(r io.ReaderAt) (binaryInfo, error) {
	f, err := pe.NewFile(r)
	if err != nil {
		return binaryInfo{}, err
	}
	defer f.Close()
	info := binaryInfo{Format: "PE", OSes: []string{"windows"}}
	if arch, ok := peMachines[f.Machine]; ok {
		info.Arches = []string{arch}
		info.Machine = fmt.Sprintf("%s (%s)", cpuName(arch), arch)
	} else {
		info.Machine = fmt.Sprintf("machine type %#04x", f.Machine)
	}
	switch c := f.Characteristics; {
	case c&pe.IMAGE_FILE_DLL != 0:
		info.NotExecutable = "a DLL"
	case c&pe.IMAGE_FILE_EXECUTABLE_IMAGE == 0:
		info.NotExecutable = "an object file, not a linked executable"
	}
	return info, nil
}

// cpuName is how people name a GOARCH's CPU.
func cpuName(arch string) string {
	switch arch {
	case "amd64":
		return "x86-64"
	case "386":
		return "32-bit x86"
	case "arm64":
		return "AArch64"
	case "arm":
		return "32-bit ARM"
	case "ppc64le":
		return "64-bit POWER, little-endian"
	case "ppc64":
		return "64-bit POWER, big-endian"
	case "s390x":
		return "IBM Z"
	case "riscv64":
		return "RISC-V 64"
	case "loong64":
		return "LoongArch 64"
	case "mips64le", "mips64", "mipsle", "mips":
		return "MIPS"
	}
	return arch
}
