// Package falco helps plugins for Falco's own content: it checks Falco
// rules files as Falco reads them, and names falcoctl's artifact formats
// (media types and config, copied as facts from falcosecurity/falcoctl,
// pkg/oci), so that a plugin can push what `falcoctl artifact install`
// installs.
package falco

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
)

// Priorities are Falco's rule priorities, from most to least severe. Falco
// compares them without regard to case.
var Priorities = []string{"EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFORMATIONAL", "DEBUG"}

// falcoctl's media types (pkg/oci/constants.go).
const (
	RulesfileConfigMediaType = "application/vnd.cncf.falco.rulesfile.config.v1+json"
	RulesfileLayerMediaType  = "application/vnd.cncf.falco.rulesfile.layer.v1+tar.gz"
	PluginConfigMediaType    = "application/vnd.cncf.falco.plugin.config.v1+json"
	PluginLayerMediaType     = "application/vnd.cncf.falco.plugin.layer.v1+tar.gz"
	AssetConfigMediaType     = "application/vnd.cncf.falco.asset.config.v1+json"
	AssetLayerMediaType      = "application/vnd.cncf.falco.asset.layer.v1+tar.gz"
)

// LayerTypes and ConfigTypes map falcoctl's layer and config media types
// to its artifact types (pkg/oci/types.go: rulesfile, plugin, asset).
var (
	LayerTypes = map[string]string{
		RulesfileLayerMediaType: "rulesfile",
		PluginLayerMediaType:    "plugin",
		AssetLayerMediaType:     "asset",
	}
	ConfigTypes = map[string]string{
		RulesfileConfigMediaType: "rulesfile",
		PluginConfigMediaType:    "plugin",
		AssetConfigMediaType:     "asset",
	}
)

// Config is falcoctl's ArtifactConfig (pkg/oci/types.go), the config blob
// of its artifacts, field for field.
type Config struct {
	Name         string       `json:"name,omitempty"`
	Version      string       `json:"version,omitempty"`
	Dependencies []Dependency `json:"dependencies,omitempty"`
	Requirements []Dependency `json:"requirements,omitempty"`
}

// CheckFiles checks the rules files among files (slash-separated, relative
// to dir): those ending in .yaml or .yml, each as CheckFile does, with
// duplicates found across them. A symlink is passed over (its target is
// checked on its own: reading both would report every rule twice). With no
// rules file at all it says so, as an error.
func CheckFiles(ctx context.Context, dir string, files []string) ([]sdk.Diagnostic, error) {
	var diags []sdk.Diagnostic
	seen := Names{}
	n := 0
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if ext := strings.ToLower(path.Ext(f)); ext != ".yaml" && ext != ".yml" {
			continue
		}
		full := filepath.Join(dir, filepath.FromSlash(f))
		if st, err := os.Lstat(full); err == nil && st.Mode()&fs.ModeSymlink != 0 {
			continue
		}
		n++
		data, err := os.ReadFile(full)
		if err != nil {
			diags = append(diags, sdk.Errorf(f, 0, "cannot read: %v", err))
			continue
		}
		diags = append(diags, CheckFile(f, data, seen)...)
	}
	if n == 0 {
		diags = append(diags, sdk.Errorf("tierpack.yaml", 0, "the contribution has no rules file").
			WithHint("add a Falco rules file ending in .yaml next to tierpack.yaml, or list it under files:"))
	}
	return diags, nil
}

// LayerFormats are falcoctl's layer media types: each a tar.gz.
var LayerFormats = map[string]archive.Format{
	RulesfileLayerMediaType: archive.FormatGzip,
	PluginLayerMediaType:    archive.FormatGzip,
	AssetLayerMediaType:     archive.FormatGzip,
}

// UnpackLayers extracts the layers of a falcoctl artifact into
// req.OutputDir as falcoctl installs them (each layer a tar.gz), with
// archive.ExtractWith's checks, spending req.Budget; a layer of another
// media type is refused (sdk.UnpackLayersOf).
func UnpackLayers(ctx context.Context, req sdk.UnpackRequest) (sdk.UnpackResult, error) {
	return sdk.UnpackLayersOf(ctx, req, archive.Limits{}, LayerFormats)
}

// Dependency is a name and a version: an artifact a rules file needs
// (dependencies), or a Falco capability it needs (requirements, e.g.
// engine_version_semver).
type Dependency struct {
	Name    string `json:"name" yaml:"name"`
	Version string `json:"version" yaml:"version"`
}

// Names remembers where each rule, macro and list was defined, across the
// files of one contribution.
type Names map[string]string

// kinds are the keys that say what a rules file item is.
var kinds = []string{"rule", "macro", "list", "required_engine_version", "required_plugin_versions"}

// fields lists the keys each kind of item may have.
var fields = map[string][]string{
	"rule": {"rule", "desc", "condition", "output", "priority", "tags", "enabled", "exceptions", "source",
		"append", "override", "warn_evttypes", "skip-if-unknown-filter", "capture", "capture_duration"},
	"macro":                    {"macro", "condition", "append", "override"},
	"list":                     {"list", "items", "append", "override"},
	"required_engine_version":  {"required_engine_version"},
	"required_plugin_versions": {"required_plugin_versions"},
}

var yamlLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: line (\d+): (.*)$`) })

// CheckFile checks one Falco rules file, named file in diagnostics. seen
// collects definitions across files, to warn about duplicates; nil means
// this file alone.
func CheckFile(file string, data []byte, seen Names) []sdk.Diagnostic {
	if seen == nil {
		seen = Names{}
	}
	var diags []sdk.Diagnostic
	dec := yaml.NewDecoder(bytes.NewReader(data))
	docs := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, msg := 0, err.Error()
			if m := yamlLine().FindStringSubmatch(msg); m != nil {
				line, _ = strconv.Atoi(m[1])
				msg = m[2]
			}
			return append(diags, sdk.Errorf(file, line, "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: ")))
		}
		docs++
		diags = append(diags, checkDocument(file, &doc, seen)...)
	}
	if docs == 0 {
		diags = append(diags, sdk.Warnf(file, 0, "the rules file is empty"))
	}
	return diags
}

func checkDocument(file string, doc *yaml.Node, seen Names) []sdk.Diagnostic {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.SequenceNode {
		return []sdk.Diagnostic{sdk.Errorf(file, root.Line, "a Falco rules file is a YAML list of items, found %s", describe(root)).
			WithHint("start each rule, macro or list with '- rule:', '- macro:' or '- list:'")}
	}
	var diags []sdk.Diagnostic
	for _, item := range root.Content {
		diags = append(diags, checkItem(file, item, seen)...)
	}
	return diags
}

func checkItem(file string, item *yaml.Node, seen Names) []sdk.Diagnostic {
	errorf := func(n *yaml.Node, format string, args ...any) sdk.Diagnostic {
		return sdk.Diagnostic{Severity: sdk.SeverityError, File: file, Line: n.Line, Column: n.Column, Message: fmt.Sprintf(format, args...)}
	}
	if item.Kind != yaml.MappingNode {
		return []sdk.Diagnostic{errorf(item, "each item must be a rule, macro or list, found %s", describe(item)).
			WithHint("write '- rule: NAME' followed by its fields")}
	}
	keys := map[string]*yaml.Node{} // key → value
	keyNodes := map[string]*yaml.Node{}
	var order []string
	var diags []sdk.Diagnostic
	for i := 0; i+1 < len(item.Content); i += 2 {
		k, v := item.Content[i], item.Content[i+1]
		if _, dup := keys[k.Value]; dup {
			diags = append(diags, errorf(k, "%s is given twice in this item", k.Value))
			continue
		}
		keys[k.Value], keyNodes[k.Value] = v, k
		order = append(order, k.Value)
	}
	var kind string
	for _, k := range kinds {
		if _, ok := keys[k]; !ok {
			continue
		}
		if kind != "" {
			return append(diags, errorf(keyNodes[k], "an item is either a %s or a %s, not both", kind, k).
				WithHint("split it into two items"))
		}
		kind = k
	}
	if kind == "" {
		return append(diags, errorf(item, "item with keys %s is not a rule, macro or list", strings.Join(order, ", ")).
			WithHint("each item starts with rule:, macro: or list: and its name"))
	}
	for _, k := range order {
		if !contains(fields[kind], k) {
			diags = append(diags, sdk.Diagnostic{Severity: sdk.SeverityWarning, File: file, Line: keyNodes[k].Line, Column: keyNodes[k].Column,
				Message: fmt.Sprintf("%s has unknown field %q", kind, k), Hint: "Falco ignores it: check its spelling; known fields: " + strings.Join(fields[kind], ", ")})
		}
	}
	switch kind {
	case "required_engine_version", "required_plugin_versions":
		return diags
	}

	nameNode := keys[kind]
	name := nameNode.Value
	if nameNode.Kind != yaml.ScalarNode || strings.TrimSpace(name) == "" {
		return append(diags, errorf(nameNode, "a %s needs a name: %s: NAME", kind, kind))
	}
	// An item that appends to, overrides, or only switches on or off an
	// earlier one needs none of the usual fields.
	onlyEnabled := kind == "rule" && len(order) == 2 && keys["enabled"] != nil
	modifies := isTrue(keys["append"]) || keys["override"] != nil || onlyEnabled
	where := fmt.Sprintf("%s:%d", file, nameNode.Line)
	id := kind + " " + name
	if prev, ok := seen[id]; ok && !modifies {
		diags = append(diags, sdk.Diagnostic{Severity: sdk.SeverityWarning, File: file, Line: nameNode.Line,
			Message: fmt.Sprintf("%s %q is already defined at %s; this definition replaces it", kind, name, prev),
			Hint:    "rename one, or set append: true or override: to change the first"})
	} else if !ok {
		seen[id] = where
	}

	var required []string
	switch kind {
	case "rule":
		required = []string{"desc", "condition", "output", "priority"}
	case "macro":
		required = []string{"condition"}
	case "list":
		required = []string{"items"}
	}
	if modifies {
		required = nil
	}
	for _, f := range required {
		v, ok := keys[f]
		switch {
		case !ok:
			diags = append(diags, errorf(nameNode, "%s %q has no %s", kind, name, f).WithHint("%s", hintFor(f)))
		case f != "items" && (v.Kind != yaml.ScalarNode || strings.TrimSpace(v.Value) == ""):
			diags = append(diags, errorf(v, "%s %q: %s must be a non-empty string", kind, name, f))
		}
	}
	if v, ok := keys["priority"]; ok && v.Kind == yaml.ScalarNode && v.Value != "" {
		switch p := strings.ToUpper(v.Value); {
		case contains(Priorities, p):
		case p == "INFO":
			diags = append(diags, sdk.Diagnostic{Severity: sdk.SeverityWarning, File: file, Line: v.Line, Column: v.Column,
				Message: fmt.Sprintf("rule %q: priority INFO is a legacy alias", name), Hint: "write INFORMATIONAL"})
		default:
			diags = append(diags, errorf(v, "rule %q: priority %q is not one of Falco's: %s", name, v.Value, strings.Join(Priorities, " ")))
		}
	}
	if v, ok := keys["items"]; ok && v.Kind != yaml.SequenceNode {
		diags = append(diags, errorf(v, "list %q: items must be a YAML list, found %s", name, describe(v)).WithHint("write items: [a, b]"))
	}
	if v, ok := keys["enabled"]; ok && (v.Kind != yaml.ScalarNode || v.Tag != "!!bool") {
		diags = append(diags, errorf(v, "%s %q: enabled must be true or false", kind, name))
	}
	if v, ok := keys["tags"]; ok {
		if v.Kind != yaml.SequenceNode {
			diags = append(diags, errorf(v, "rule %q: tags must be a YAML list of strings", name))
		}
	}
	return diags
}

func hintFor(field string) string {
	switch field {
	case "desc":
		return "desc: one sentence saying what the rule detects"
	case "condition":
		return "condition: a Falco filter expression, e.g. spawned_process and container"
	case "output":
		return "output: the alert text, with fields like %proc.cmdline"
	case "priority":
		return "priority: one of " + strings.Join(Priorities, ", ")
	case "items":
		return "items: the list's values, e.g. [bash, sh]"
	}
	return ""
}

func isTrue(n *yaml.Node) bool {
	if n == nil {
		return false
	}
	var b bool
	return n.Decode(&b) == nil && b
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("the value %q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "an empty document"
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
