package script

import (
	"context"

	"github.com/tierpack/tierpack/sdk"
)

var _ sdk.Initializer = Plugin{}

// Init implements sdk.Initializer: an executable install.sh with a shebang,
// a README and spec.entrypoint. tierpack.yaml lists no files, so every file
// the user adds to the folder is packaged.
func (Plugin) Init(_ context.Context, req sdk.InitRequest) (sdk.InitResult, error) {
	n := req.Name
	return sdk.InitResult{
		Files: []sdk.InitFile{
			{Path: "install.sh", Mode: 0o755, Content: []byte("#!/usr/bin/env bash\n# " + n + ": what this script does.\nset -euo pipefail\n\necho \"hello from " + n + "\"\n")},
			{Path: "README.md", Content: []byte("# " + n + "\n\nWhat it does, how to run it, what it needs.\n\n    ./install.sh\n")},
		},
		SpecYAML: "entrypoint: install.sh\n",
	}, nil
}
