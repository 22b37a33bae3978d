// Package archive writes and extracts the tar+gzip and tar+zstd layers
// that carry tierpack contributions.
//
// # Writing
//
// [Write] packages files below a root directory as a reproducible tar
// stream, compressed with gzip ([WriteTarGz]) or zstd. For a given tree and [WriteOptions] the output is
// byte-for-byte identical on every run and machine, whatever the files'
// modification times, owners or the process umask (Windows has no execute
// bits, so there every file is stored with mode 0644):
//
//   - entries are sorted by path and every parent directory is emitted once,
//     before its children;
//   - every entry has the same modification time (WriteOptions.ModTime), uid
//     and gid 0 and empty user and group names;
//   - directories have mode 0755, symlinks 0777, and regular files 0755 if
//     any execute bit is set and 0644 otherwise;
//   - headers use the USTAR format unless a path, link target, size or time
//     cannot be represented in it, in which case that header alone uses PAX;
//   - the gzip header has no name, no modification time and OS byte 255
//     ("unknown"); a zstd stream is one frame with its content checksum.
//
// [Result.DiffID] is the sha256 digest of the uncompressed tar, the value an
// OCI image config lists in rootfs.diff_ids. The DiffID depends only on the
// tree and the options. The compressed bytes additionally depend on the
// version of the compressor (klauspost/pgzip, 1 MiB blocks compressed in
// parallel; klauspost/compress/zstd), so they are stable for a given build
// of tierpack but may change when its dependencies are upgraded: the
// tierpack host never moves a published version's tag for that reason.
//
// Write refuses, with an error wrapping [ErrUnsafeEntry], anything
// that [Extract] would refuse: absolute paths, ".." components, names with
// backslashes, paths that pass through a symlink, symlinks that are absolute
// or point outside the root, and device files, sockets and named pipes. A layer it writes can
// therefore always be extracted.
//
// # Extracting
//
// [Extract] treats its input as hostile. It writes only below the
// destination directory, which it opens with [os.OpenRoot] so that the
// operating system rejects any escape the explicit checks might miss. It
// refuses, with an error wrapping [ErrUnsafeEntry] that names the entry and
// the reason:
//
//   - absolute paths, ".." components, backslashes, NUL bytes and Windows
//     drive or volume names;
//   - entries whose path passes through a symlink (for example "a -> dir"
//     followed by "a/file"), or through anything that is not a directory;
//   - symlinks whose target is absolute, escapes the destination, or
//     contains ".." after a normal component (such a target can escape by
//     way of another symlink even when it looks local);
//   - hard links whose target is not a regular file extracted earlier from
//     the same archive;
//   - character and block devices, named pipes, GNU sparse files and
//     unknown entry types;
//   - a second entry for a path that already exists as a file, symlink or
//     hard link (later entries never overwrite earlier ones). Repeated
//     directory entries are allowed.
//
// Setuid, setgid and sticky bits are silently dropped. Sizes and entry counts
// are bounded by [Limits]; exceeding one returns an error wrapping
// [ErrTooLarge].
//
// Extract may leave partial content in the destination when it fails. Extract
// into a fresh staging directory and remove it if Extract returns an error;
// the tierpack host does exactly that.
package archive
