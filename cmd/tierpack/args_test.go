package main

import (
	"strings"
	"testing"
)

func TestReorderArgs(t *testing.T) {
	app := newApp()
	for _, tc := range []struct{ in, want string }{
		{"tierpack pull REF -o DIR --tier official", "tierpack pull -o DIR --tier official REF"},
		{"tierpack pull REF -q --plugin-timeout 3s -o DIR", "tierpack -q --plugin-timeout 3s pull -o DIR REF"},
		{"tierpack --log-level debug push DIR REF --output json", "tierpack --log-level debug push --output json DIR REF"},
		{"tierpack plugin list --output json", "tierpack plugin list --output json"},
		{"tierpack promote REF --to=official --key k", "tierpack promote --to=official --key k REF"},
		{"tierpack pull -- -weird-ref", "tierpack pull -- -weird-ref"},
		{"tierpack", "tierpack"},
	} {
		got := strings.Join(reorderArgs(app, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("reorderArgs(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}
