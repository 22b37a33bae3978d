package index

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// semverRE is semver.org's regular expression for version 2.0.0.
var semverRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
})

// semver is a parsed semantic version; ok is false for anything else.
type semver struct {
	ok         bool
	core       [3]uint64
	prerelease []string
}

func parseSemver(v string) semver {
	m := semverRE().FindStringSubmatch(v)
	if m == nil {
		return semver{}
	}
	s := semver{ok: true}
	for i := range 3 {
		n, err := strconv.ParseUint(m[i+1], 10, 64)
		if err != nil {
			return semver{} // too large to compare
		}
		s.core[i] = n
	}
	if m[4] != "" {
		s.prerelease = strings.Split(m[4], ".")
	}
	return s
}

// CompareVersions orders versions by semver precedence, build metadata
// ignored. Versions that are not semver come after every semver one (they
// are "lower"), compared as strings. It returns -1, 0 or +1.
func CompareVersions(a, b string) int {
	sa, sb := parseSemver(a), parseSemver(b)
	switch {
	case sa.ok && !sb.ok:
		return 1
	case !sa.ok && sb.ok:
		return -1
	case !sa.ok && !sb.ok:
		return strings.Compare(a, b)
	}
	for i := range 3 {
		if sa.core[i] != sb.core[i] {
			if sa.core[i] < sb.core[i] {
				return -1
			}
			return 1
		}
	}
	// A release is higher than its pre-releases.
	switch {
	case len(sa.prerelease) == 0 && len(sb.prerelease) == 0:
		return 0
	case len(sa.prerelease) == 0:
		return 1
	case len(sb.prerelease) == 0:
		return -1
	}
	for i := 0; i < len(sa.prerelease) && i < len(sb.prerelease); i++ {
		if c := comparePrerelease(sa.prerelease[i], sb.prerelease[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(sa.prerelease) < len(sb.prerelease):
		return -1
	case len(sa.prerelease) > len(sb.prerelease):
		return 1
	}
	return 0
}

// comparePrerelease compares one dot-separated pre-release identifier:
// numbers numerically and below alphanumerics, which compare in ASCII.
func comparePrerelease(a, b string) int {
	na, aerr := strconv.ParseUint(a, 10, 64)
	nb, berr := strconv.ParseUint(b, 10, 64)
	switch {
	case aerr == nil && berr == nil:
		switch {
		case na < nb:
			return -1
		case na > nb:
			return 1
		}
		return 0
	case aerr == nil:
		return -1
	case berr == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// sortVersions orders versions newest first; equal versions go by first
// tag, then digest, so the order never depends on the input's.
func sortVersions(vs []Version) {
	slices.SortStableFunc(vs, func(a, b Version) int {
		if c := CompareVersions(b.Version, a.Version); c != 0 {
			return c
		}
		if c := strings.Compare(firstTag(a), firstTag(b)); c != 0 {
			return c
		}
		return strings.Compare(a.Digest, b.Digest)
	})
}

func firstTag(v Version) string {
	if len(v.Tags) > 0 {
		return v.Tags[0]
	}
	return ""
}

// latest picks the latest of versions sorted by sortVersions: the first
// release, else the first pre-release, else the first version.
func latest(sorted []Version) string {
	for _, v := range sorted {
		if s := parseSemver(v.Version); s.ok && len(s.prerelease) == 0 {
			return v.Version
		}
	}
	if len(sorted) > 0 {
		return sorted[0].Version
	}
	return ""
}
