package sdk

import "strings"

// The grammars below are checked by hand rather than by package-level
// regular expressions: their counted repetitions ({0,127}) compile into
// large automata, and every tierpack process — the host and each plugin it
// starts — would pay that at start-up for names it may never check.

// ValidTag reports whether s is an OCI tag, as the distribution spec
// defines it: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}.
func ValidTag(s string) bool {
	if s == "" || len(s) > 128 || s[0] == '.' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !alnum(s[i]) && !strings.ContainsRune("._-", rune(s[i])) {
			return false
		}
	}
	return true
}

// ValidMediaType reports whether s is a media type in RFC 6838's
// restricted-name syntax, as image-spec uses for artifact and layer media
// types: TYPE/SUBTYPE, each [A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}.
func ValidMediaType(s string) bool {
	typ, sub, ok := strings.Cut(s, "/")
	return ok && restrictedName(typ) && restrictedName(sub)
}

func restrictedName(s string) bool {
	if s == "" || len(s) > 127 || !alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !alnum(s[i]) && !strings.ContainsRune("!#$&^_.+-", rune(s[i])) {
			return false
		}
	}
	return true
}

func alnum(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
}
