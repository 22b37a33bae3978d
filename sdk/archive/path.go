package archive

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrUnsafeEntry is wrapped by errors for paths and archive entries that
// could write outside the destination or cannot be represented safely:
// traversal, absolute or escaping symlinks, devices, duplicates and similar.
// The message names the entry and the reason. From Extract it means the
// archive is corrupt or hostile and must not be used; from WriteTarGz, that
// the named path must be fixed or left out before packaging.
var ErrUnsafeEntry = errors.New("archive: unsafe entry")

// ErrTooLarge is wrapped by errors returned by Extract when the archive
// exceeds one of its Limits. The message gives the size or count reached and
// the limit. Raise the limit only for archives from a trusted source.
var ErrTooLarge = errors.New("archive: limit exceeded")

// LimitError is content past one of the Limits; it wraps ErrTooLarge.
// Limit names the Limits field exceeded, so that a front end can say how to
// raise it in its own words (a flag, a setting).
type LimitError struct {
	// Limit is "MaxEntries", "MaxFileSize" or "MaxTotalSize".
	Limit string
	// Msg is the message, ErrTooLarge's text first.
	Msg string
}

func (e *LimitError) Error() string { return e.Msg }

// Unwrap returns ErrTooLarge.
func (e *LimitError) Unwrap() error { return ErrTooLarge }

// limitErrorf is a LimitError of limit with a formatted detail.
func limitErrorf(limit, format string, args ...any) error {
	return &LimitError{Limit: limit, Msg: ErrTooLarge.Error() + ": " + fmt.Sprintf(format, args...)}
}

// ErrCorrupt is wrapped by errors returned by Extract, ExtractWith and Scan
// when the input is not what it should be: not a tar stream, truncated,
// with a bad gzip checksum, a header that lies about its size, or data that
// is not gzip in a layer whose media type says gzip. Such an archive is
// corrupt, mislabelled or hostile and must not be used.
var ErrCorrupt = errors.New("archive: corrupt archive")

// Quote returns s in double quotes with control characters, bidirectional
// overrides and every other non-printable character escaped as Go does
// (strconv.Quote), so that a hostile file name cannot rewrite a terminal
// line or reorder what a message shows. Every message about a name from an
// archive or a contribution goes through it, or through %q, which is the
// same.
func Quote(s string) string { return strconv.Quote(s) }

// unsafeEntry returns an error wrapping ErrUnsafeEntry for the archive
// entry name, for Extract.
func unsafeEntry(name, format string, args ...any) error {
	return fmt.Errorf("%w %s: %s; the archive is corrupt or hostile, do not use it (rebuild it with tierpack if you publish it)",
		ErrUnsafeEntry, Quote(name), fmt.Sprintf(format, args...))
}

// MaxPathLen and MaxNameLen bound an entry's path and each name in it,
// as Linux file systems do (PATH_MAX, NAME_MAX): a longer one cannot be
// written anywhere, so it is refused as the hostile entry it is.
const (
	MaxPathLen = 4096
	MaxNameLen = 255
)

// cleanName validates a slash-separated relative path as used in tar entry
// names and WriteTarGz paths, and returns it cleaned, without leading "./"
// or trailing "/". The root itself is returned as ".". The returned reason is
// empty when the name is acceptable.
func cleanName(name string) (clean, reason string) {
	switch {
	case name == "":
		return "", "the path is empty"
	case strings.IndexByte(name, 0) >= 0:
		return "", "the path contains a NUL byte"
	case strings.IndexByte(name, '\\') >= 0:
		return "", `the path contains a backslash, which is a path separator on Windows`
	case name[0] == '/':
		return "", "the path is absolute"
	case hasDriveLetter(name):
		return "", "the path starts with a Windows drive name"
	}
	if len(name) > MaxPathLen {
		return "", fmt.Sprintf("the path is %d bytes long, more than the %d a file system takes", len(name), MaxPathLen)
	}
	for _, elem := range strings.Split(name, "/") {
		if elem == ".." {
			return "", `the path contains a ".." component`
		}
		if len(elem) > MaxNameLen {
			return "", fmt.Sprintf("a name in the path is %d bytes long, more than the %d a file system takes", len(elem), MaxNameLen)
		}
	}
	clean = path.Clean(name)
	if !filepath.IsLocal(filepath.FromSlash(clean)) && clean != "." {
		// On Windows this also catches reserved names (NUL, COM1, ...) and
		// colons, which select alternate data streams.
		return "", "the path is not a local path on this operating system"
	}
	return clean, ""
}

// hasDriveLetter reports whether s starts with a Windows drive name ("C:").
func hasDriveLetter(s string) bool {
	if len(s) < 2 || s[1] != ':' {
		return false
	}
	c := s[0] | 0x20 // lower case
	return 'a' <= c && c <= 'z'
}

// cleanLinkTarget validates the target of a symlink located at name (a
// cleaned path relative to the root) and returns it cleaned. The target must
// be relative, must stay inside the root when resolved from the link's
// directory, and may use ".." only as leading components: a ".." after a
// normal component ("s/../x") is resolved by the operating system after
// following s, which may itself be a symlink, so a lexical check alone
// cannot prove such a target stays inside the root.
//
// Together with the rule that no entry is created below a symlink, this
// guarantees every symlink resolves inside the root, also through chains of
// symlinks: the leading ".." components climb real directories, and every
// later component either descends into a real directory or into a symlink
// that obeys the same rule.
func cleanLinkTarget(name, target string) (clean, reason string) {
	switch {
	case target == "":
		return "", "the symlink target is empty"
	case strings.IndexByte(target, 0) >= 0:
		return "", "the symlink target contains a NUL byte"
	case strings.IndexByte(target, '\\') >= 0:
		return "", fmt.Sprintf("the symlink target %q contains a backslash, which is a path separator on Windows", target)
	case target[0] == '/' || hasDriveLetter(target):
		return "", fmt.Sprintf("the symlink target %q is absolute; only relative targets are allowed", target)
	}
	seenNormal := false
	for _, elem := range strings.Split(target, "/") {
		switch elem {
		case "", ".":
		case "..":
			if seenNormal {
				return "", fmt.Sprintf(`the symlink target %q has a ".." after a normal component; write it as a clean relative path`, target)
			}
		default:
			seenNormal = true
		}
	}
	resolved := path.Join(path.Dir(name), target)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return "", fmt.Sprintf("the symlink target %q points outside the root", target)
	}
	return path.Clean(target), ""
}
