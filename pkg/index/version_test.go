package index

import "testing"

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1.0.0", "1.0.0", 0},
		{"1.0.0", "1.0.1", -1},
		{"1.10.0", "1.9.0", 1},
		{"2.0.0", "10.0.0", -1},
		{"1.0.0-rc.1", "1.0.0", -1},
		{"1.0.0-alpha", "1.0.0-alpha.1", -1},
		{"1.0.0-alpha.1", "1.0.0-alpha.beta", -1},
		{"1.0.0-beta.2", "1.0.0-beta.11", -1},
		{"1.0.0-rc.1", "1.0.0-beta.11", 1},
		{"1.0.0+build.1", "1.0.0+build.2", 0}, // build metadata is ignored
		{"1.0.0", "latest", 1},                // semver beats anything else
		{"nightly", "latest", 1},              // non-semver: by string
		{"v1.0.0", "0.0.1", -1},               // "v" is not semver
		{"99999999999999999999.0.0", "1.0.0", -1},
	} {
		if got := CompareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := CompareVersions(tc.b, tc.a); got != -tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

func TestLatest(t *testing.T) {
	for _, tc := range []struct {
		name     string
		versions []string
		want     string
	}{
		{"highest release", []string{"1.2.0", "1.10.0", "1.9.3"}, "1.10.0"},
		{"release over newer pre-release", []string{"1.2.0", "1.3.0-rc.1"}, "1.2.0"},
		{"only pre-releases", []string{"1.3.0-rc.1", "1.3.0-rc.2"}, "1.3.0-rc.2"},
		{"semver over other names", []string{"zzz", "0.0.1-alpha"}, "0.0.1-alpha"},
		{"no semver", []string{"edge", "stable"}, "stable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var vs []Version
			for _, v := range tc.versions {
				vs = append(vs, Version{Version: v, Digest: "sha256:" + v})
			}
			sortVersions(vs)
			if got := latest(vs); got != tc.want {
				t.Errorf("latest = %q, want %q (sorted: %v)", got, tc.want, vs)
			}
		})
	}
}
