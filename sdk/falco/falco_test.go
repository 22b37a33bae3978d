package falco

import (
	"strings"
	"testing"
)

// TestCheckFile covers the rules one case at a time.
func TestCheckFile(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		// want are the diagnostics' strings; none means no diagnostics.
		want []string
	}{
		{name: "empty", yaml: "", want: []string{"r.yaml: warning: the rules file is empty"}},
		{name: "not a list", yaml: "rule: x\n", want: []string{"r.yaml:1: error: a Falco rules file is a YAML list of items, found a mapping (start each rule, macro or list with '- rule:', '- macro:' or '- list:')"}},
		{name: "invalid yaml", yaml: "- rule: [x\n", want: []string{"r.yaml:1: error: invalid YAML: did not find expected ',' or ']'"}},
		{name: "scalar item", yaml: "- just text\n", want: []string{"r.yaml:1:3: error: each item must be a rule, macro or list, found the value \"just text\" (write '- rule: NAME' followed by its fields)"}},
		{name: "two kinds", yaml: "- rule: a\n  macro: b\n", want: []string{"r.yaml:2:3: error: an item is either a rule or a macro, not both (split it into two items)"}},
		{name: "rule without name", yaml: "- rule:\n  desc: d\n", want: []string{"r.yaml:1:8: error: a rule needs a name: rule: NAME"}},
		{name: "priority any case", yaml: "- rule: a\n  desc: d\n  condition: c\n  output: o\n  priority: informational\n"},
		{name: "priority info alias", yaml: "- rule: a\n  desc: d\n  condition: c\n  output: o\n  priority: INFO\n",
			want: []string{`r.yaml:5:13: warning: rule "a": priority INFO is a legacy alias (write INFORMATIONAL)`}},
		{name: "empty condition", yaml: "- macro: m\n  condition: \"\"\n", want: []string{`r.yaml:2:14: error: macro "m": condition must be a non-empty string`}},
		{name: "append needs nothing else", yaml: "- rule: a\n  append: true\n  condition: and x\n"},
		{name: "override needs nothing else", yaml: "- list: l\n  items: [x]\n  override:\n    items: append\n"},
		{name: "disable only", yaml: "- rule: a\n  enabled: false\n"},
		{name: "enabled not bool", yaml: "- rule: a\n  enabled: nope\n", want: []string{`r.yaml:2:12: error: rule "a": enabled must be true or false`}},
		{name: "duplicate", yaml: "- macro: m\n  condition: a\n- macro: m\n  condition: b\n",
			want: []string{`r.yaml:3: warning: macro "m" is already defined at r.yaml:1; this definition replaces it (rename one, or set append: true or override: to change the first)`}},
		{name: "duplicate key", yaml: "- macro: m\n  condition: a\n  condition: b\n", want: []string{"r.yaml:3:3: error: condition is given twice in this item"}},
		{name: "engine version", yaml: "- required_engine_version: 0.31.0\n- required_plugin_versions:\n  - name: k8saudit\n    version: 0.1.0\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, d := range CheckFile("r.yaml", []byte(tc.yaml), nil) {
				got = append(got, d.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
