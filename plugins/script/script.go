// Package script is the built-in plugin for "script" contributions: shell
// scripts, YAML and markdown, the contrib tier's bread and butter.
//
// Validation: every listed file exists; YAML parses (every document); JSON
// parses; a script — a file with a script extension, an executable bit or a
// shebang — has both a shebang line and the executable bit; spec.entrypoint,
// if given, is one of the scripts. A missing README is a warning.
//
// Packaging: the listed files plus tierpack.yaml, with their modes, as one
// deterministic tar+zstd layer (standard OCI layer media type; tar+gzip
// when the host asks for gzip) under an OCI empty config, artifactType
// application/vnd.tierpack.script.v1. Unpack restores the folder from
// either.
package script

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
)

// Type is the contribution type this plugin serves.
const Type = "script"

// ArtifactType is the OCI artifactType of script contributions.
const ArtifactType = "application/vnd.tierpack.script.v1"

// Version is the plugin's version.
const Version = "0.1.0"

// Spec is the script type's `spec` section in tierpack.yaml.
type Spec struct {
	// Entrypoint is the script users run first, e.g. install.sh.
	Entrypoint string `json:"entrypoint,omitempty"`
}

// Plugin implements sdk.Packager for scripts.
type Plugin struct{}

var _ sdk.Packager = Plugin{}

// Describe implements sdk.Packager.
func (Plugin) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Type:         Type,
		Version:      Version,
		ArtifactType: ArtifactType,
		MediaTypes:   []string{sdk.MediaTypeEmptyJSON, sdk.MediaTypeLayerTarZstd, sdk.MediaTypeLayerTarGzip},
		FilePatterns: []string{"*.sh", "*.yaml", "*.yml", "*.md"},
		Description:  "shell scripts, YAML and markdown (convenience scripts, example configuration, docs)",
	}, nil
}

var scriptExt = map[string]bool{".sh": true, ".bash": true, ".zsh": true, ".ksh": true, ".py": true, ".pl": true, ".rb": true}

// Validate implements sdk.Packager.
func (Plugin) Validate(ctx context.Context, req sdk.ValidateRequest) ([]sdk.Diagnostic, error) {
	var spec Spec
	var diags []sdk.Diagnostic
	if err := req.Contribution.DecodeSpec(&spec); err != nil {
		diags = append(diags, sdk.Errorf("tierpack.yaml", 0, "%v", err).WithHint("the script type's spec has one field: entrypoint"))
	}
	files, err := sdk.ExpandFiles(req.Dir, req.Contribution.Files)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		diags = append(diags, sdk.Errorf("tierpack.yaml", 0, "the contribution has no files").
			WithHint("add scripts, YAML or markdown next to tierpack.yaml, or list them under files:"))
	}
	scripts := map[string]bool{}
	hasReadme := false
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if strings.HasPrefix(strings.ToLower(path.Base(f)), "readme") {
			hasReadme = true
		}
		d, isScript, err := checkFile(req.Dir, f)
		if err != nil {
			return nil, err
		}
		diags = append(diags, d...)
		if isScript {
			scripts[f] = true
		}
	}
	if spec.Entrypoint != "" && !scripts[spec.Entrypoint] {
		diags = append(diags, sdk.Errorf("tierpack.yaml", 0, "spec.entrypoint %q is not one of the contribution's scripts", spec.Entrypoint).
			WithHint("list it under files: and give it a shebang and the executable bit"))
	}
	if !hasReadme {
		diags = append(diags, sdk.Warnf("", 0, "no README: users of a contrib contribution rely on it to know what it does").
			WithHint("add a README.md"))
	}
	return diags, nil
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func checkFile(dir, rel string) (diags []sdk.Diagnostic, isScript bool, err error) {
	full := filepath.Join(dir, filepath.FromSlash(rel))
	st, err := os.Lstat(full)
	if err != nil {
		return []sdk.Diagnostic{sdk.Errorf(rel, 0, "cannot read: %v", err)}, false, nil
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		// Its target is checked on its own if it is part of the
		// contribution; sdk/archive refuses one that points outside.
		return nil, false, nil
	}
	f, err := os.Open(full)
	if err != nil {
		return []sdk.Diagnostic{sdk.Errorf(rel, 0, "cannot read: %v", err)}, false, nil
	}
	defer f.Close()
	head, _ := bufio.NewReader(f).Peek(2)
	shebang := bytes.Equal(head, []byte("#!"))
	exec := st.Mode().Perm()&0o111 != 0
	ext := strings.ToLower(path.Ext(rel))
	isScript = scriptExt[ext] || shebang || exec
	if isScript {
		if !shebang {
			diags = append(diags, sdk.Errorf(rel, 1, "script has no shebang line").
				WithHint("start it with e.g. #!/usr/bin/env bash"))
		}
		if !exec {
			diags = append(diags, sdk.Errorf(rel, 0, "script is not executable").
				WithHint("run chmod +x %s", rel))
		}
	}
	switch ext {
	case ".yaml", ".yml":
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, false, err
		}
		dec := yaml.NewDecoder(f)
		for {
			var n yaml.Node
			err := dec.Decode(&n)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				line := 0
				if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
					line, _ = strconv.Atoi(m[1])
				}
				msg := strings.TrimPrefix(err.Error(), "yaml: ")
				msg = strings.TrimPrefix(msg, "line "+strconv.Itoa(line)+": ")
				diags = append(diags, sdk.Errorf(rel, line, "invalid YAML: %s", msg))
				break
			}
		}
	case ".json":
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, false, err
		}
		data, err := io.ReadAll(f)
		if err != nil {
			return nil, false, err
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			line := 0
			var se *json.SyntaxError
			if errors.As(err, &se) {
				line = 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
			}
			diags = append(diags, sdk.Errorf(rel, line, "invalid JSON: %v", err))
		}
	}
	return diags, isScript, nil
}

// Package implements sdk.Packager.
func (Plugin) Package(ctx context.Context, req sdk.PackageRequest) (sdk.PackageResult, error) {
	files := append([]string{"tierpack.yaml"}, req.Contribution.Files...)
	return sdk.PackageFiles(ctx, req, files)
}

// Unpack implements sdk.Packager.
func (Plugin) Unpack(ctx context.Context, req sdk.UnpackRequest) (sdk.UnpackResult, error) {
	return sdk.UnpackLayers(ctx, req, archive.Limits{})
}
