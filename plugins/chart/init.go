package chart

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"

	"github.com/tierpack/tierpack/sdk"
)

var _ sdk.Initializer = Plugin{}

// Init implements sdk.Initializer. A folder that already holds a Chart.yaml
// is adopted: the contribution takes the chart's name, version and
// description, and no chart file is written. Otherwise Init scaffolds the
// chart `helm create NAME` does (Helm's own chartutil.Create), at the
// requested version, which Helm's linter accepts as it is.
func (Plugin) Init(ctx context.Context, req sdk.InitRequest) (sdk.InitResult, error) {
	chartfile := filepath.Join(req.Dir, chartutil.ChartfileName)
	if _, err := os.Stat(chartfile); err == nil {
		md, err := chartutil.LoadChartfile(chartfile)
		if err != nil {
			return sdk.InitResult{}, fmt.Errorf("%s is there to adopt, but Helm cannot read it: %v (fix it, or init another folder)", chartfile, err)
		}
		if md.Name == "" || md.Version == "" {
			return sdk.InitResult{}, fmt.Errorf("%s has no name or version: add both, then run init again", chartfile)
		}
		return sdk.InitResult{
			Name: md.Name, Version: md.Version, Description: md.Description,
			Notes: []string{fmt.Sprintf("adopted the Helm chart %s %s in %s: tierpack.yaml takes its name and version from Chart.yaml", md.Name, md.Version, req.Dir)},
		}, nil
	}
	tmp, err := os.MkdirTemp("", "tierpack-chart-init-")
	if err != nil {
		return sdk.InitResult{}, err
	}
	defer os.RemoveAll(tmp)
	cdir, err := chartutil.Create(req.Name, tmp)
	if err != nil {
		return sdk.InitResult{}, fmt.Errorf("creating a chart named %q: %v (choose another name with --name)", req.Name, err)
	}
	cf := filepath.Join(cdir, chartutil.ChartfileName)
	md, err := chartutil.LoadChartfile(cf)
	if err != nil {
		return sdk.InitResult{}, err
	}
	if req.Version != "" {
		md.Version = req.Version
	}
	if err := chartutil.SaveChartfile(cf, md); err != nil {
		return sdk.InitResult{}, err
	}
	var files []sdk.InitFile
	err = filepath.WalkDir(cdir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(cdir, p)
		files = append(files, sdk.InitFile{Path: filepath.ToSlash(rel), Content: b, Mode: 0o644})
		return nil
	})
	if err != nil {
		return sdk.InitResult{}, err
	}
	return sdk.InitResult{
		Files: files, Description: md.Description,
		Notes: []string{"scaffolded the chart `helm create` makes; edit Chart.yaml, values.yaml and templates/ (Chart.yaml's name and version must stay tierpack.yaml's)"},
	}, nil
}
