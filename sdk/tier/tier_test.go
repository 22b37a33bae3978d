package tier

import (
	"errors"
	"strings"
	"testing"

	"github.com/tierpack/tierpack/sdk"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Tier
		err  bool
	}{
		{"contrib", Contrib, false},
		{"Repository", Repository, false},
		{" official ", Official, false},
		{"gold", None, true},
		{"", None, true},
	} {
		got, err := Parse(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %v, err=%v", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, ErrUnknown) {
			t.Errorf("Parse(%q) error %v does not wrap ErrUnknown", tc.in, err)
		}
	}
}

func TestRequire(t *testing.T) {
	for _, tc := range []struct {
		have, want Tier
		ok         bool
	}{
		{Contrib, Contrib, true},
		{Official, Repository, true},
		{Repository, Official, false},
		{Contrib, Repository, false},
		{None, Contrib, false},
		{None, None, true},
	} {
		err := Require("x:1", tc.have, tc.want)
		if (err == nil) != tc.ok {
			t.Errorf("Require(%v, %v) = %v, want ok=%v", tc.have, tc.want, err, tc.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrBelow) {
				t.Errorf("error does not wrap ErrBelow: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want.String()) || !strings.Contains(err.Error(), "x:1") {
				t.Errorf("error does not name the tiers and subject: %v", err)
			}
		}
	}
}

func TestFromAnnotations(t *testing.T) {
	if got, err := FromAnnotations(nil); err != nil || got != None {
		t.Fatalf("nil annotations: %v %v", got, err)
	}
	if got, err := FromAnnotations(map[string]string{sdk.AnnotationTier: "repository"}); err != nil || got != Repository {
		t.Fatalf("repository: %v %v", got, err)
	}
	if _, err := FromAnnotations(map[string]string{sdk.AnnotationTier: "platinum"}); err == nil {
		t.Fatal("bad annotation accepted")
	}
}
