package archive

import "testing"

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1048576": 1 << 20, "1M": 1 << 20, "100M": 100 << 20, "4GiB": 4 << 30, "1.5GiB": 3 << 29,
		"500MB": 500e6, "2 KiB": 2048, "1T": 1 << 40,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-1", "4XB", "GiB", "1e400"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted it", bad)
		}
	}
	if s := FormatSize(4 << 30); s != "4 GiB" {
		t.Errorf("FormatSize: %q", s)
	}
}
