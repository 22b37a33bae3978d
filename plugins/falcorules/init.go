package falcorules

import (
	"context"

	"github.com/tierpack/tierpack/sdk"
)

var _ sdk.Initializer = Plugin{}

// Init implements sdk.Initializer: a rules file with one rule to replace,
// and the engine version it needs in spec.requirements (falcoctl's config).
func (Plugin) Init(_ context.Context, req sdk.InitRequest) (sdk.InitResult, error) {
	return sdk.InitResult{
		Files: []sdk.InitFile{
			{Path: "rules.yaml", Content: []byte(`- rule: ` + req.Name + ` example
  desc: What this rule detects (replace it with yours).
  condition: spawned_process and container and proc.name = nc
  output: Netcat started in a container (user=%user.name container=%container.name)
  priority: WARNING
`)},
			{Path: "README.md", Content: []byte("# " + req.Name + "\n\nWhat these Falco rules detect, and what they need.\n")},
		},
		SpecYAML: "requirements:\n  - name: engine_version_semver\n    version: 0.31.0\n",
	}, nil
}
