// Package requires reads what an artifact needs — other artifacts and
// runtimes, tierpack.yaml's requires, or a falcoctl artifact's
// requirements — and checks a machine's runtimes against it.
//
// Runtimes are named by the contribution (falco, kubernetes, …) and
// declared by the machine: `--runtime NAME=VERSION`, or config's
// runtimes. A requirement on a runtime the machine does not declare is
// not checked (tierpack cannot know what runs there), and says so.
//
// falcoctl's requirements map to runtimes: engine_version_semver is the
// runtime falco-engine, plugin_api_version is falco-plugin-api, each
// met, as falcoctl judges it, by the same major version at least as new.
package requires

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/contrib"
	"github.com/tierpack/tierpack/sdk/falco"
)

// Check checks r's version ranges, so a contribution is never published
// with one that no tierpack can apply.
func Check(r contrib.Requires) error {
	var errs []string
	for i, a := range r.Artifacts {
		if a.Version == "" {
			continue
		}
		if _, err := semver.NewConstraint(a.Version); err != nil {
			errs = append(errs, fmt.Sprintf("requires.artifacts[%d] (%s): version %q is not a semver range (e.g. ^1.2, >=1.0 <2.0): %v", i, a.Name, a.Version, err))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.Runtimes)) {
		if _, err := semver.NewConstraint(r.Runtimes[name]); err != nil {
			errs = append(errs, fmt.Sprintf("requires.runtimes.%s: %q is not a semver range (e.g. >=0.40.0): %v", name, r.Runtimes[name], err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %s", contrib.FileName, strings.Join(errs, "; "))
	}
	return nil
}

// Annotation is r as the dev.tierpack.requires annotation; "" when
// nothing is required.
func Annotation(r contrib.Requires) string {
	if r.IsZero() {
		return ""
	}
	b, _ := json.Marshal(r)
	return string(b)
}

// FromAnnotations reads what an artifact tierpack pushed requires.
func FromAnnotations(a map[string]string) (contrib.Requires, error) {
	var r contrib.Requires
	s := a[sdk.AnnotationRequires]
	if s == "" {
		return r, nil
	}
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return r, fmt.Errorf("malformed %s annotation: %w", sdk.AnnotationRequires, err)
	}
	return r, Check(r)
}

// falcoctlRuntimes names the runtimes falcoctl's requirements are about.
var falcoctlRuntimes = map[string]string{
	"engine_version_semver": "falco-engine",
	"plugin_api_version":    "falco-plugin-api",
}

// FromFalcoctl turns a falcoctl artifact's requirements into runtime
// requirements: same major version, at least as new (falcoctl's rule).
// Requirements it does not know are returned as unknown.
func FromFalcoctl(reqs []falco.Dependency) (runtimes map[string]string, unknown []string) {
	runtimes = map[string]string{}
	for _, r := range reqs {
		name, ok := falcoctlRuntimes[r.Name]
		v, err := semver.NewVersion(r.Version)
		if !ok || err != nil {
			unknown = append(unknown, r.Name+" "+r.Version)
			continue
		}
		runtimes[name] = fmt.Sprintf(">=%s, <%d.0.0", v, v.Major()+1)
	}
	return runtimes, unknown
}

// Runtimes are the runtimes this machine runs, by name.
type Runtimes map[string]*semver.Version

// ParseRuntimes reads NAME=VERSION pairs (--runtime, config).
func ParseRuntimes(pairs []string) (Runtimes, error) {
	rt := Runtimes{}
	for _, p := range pairs {
		name, ver, ok := strings.Cut(p, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("runtime %q: use NAME=VERSION, e.g. falco=0.40.0", p)
		}
		v, err := semver.NewVersion(strings.TrimSpace(ver))
		if err != nil {
			return nil, fmt.Errorf("runtime %q: %q is not a version: %v", p, ver, err)
		}
		rt[name] = v
	}
	return rt, nil
}

// Unmet returns, for each runtime in need this machine runs at a version
// outside its range, why ("needs falco >=0.40.0, this machine runs
// 0.39.1"); and the runtimes needed that the machine does not declare.
func (rt Runtimes) Unmet(need map[string]string) (unmet, undeclared []string) {
	for _, name := range slices.Sorted(maps.Keys(need)) {
		c, err := semver.NewConstraint(need[name])
		if err != nil {
			unmet = append(unmet, fmt.Sprintf("needs %s %q, which is not a semver range", name, need[name]))
			continue
		}
		have, ok := rt[name]
		if !ok {
			undeclared = append(undeclared, name+" "+need[name])
			continue
		}
		if !c.Check(have) {
			unmet = append(unmet, fmt.Sprintf("needs %s %s, this machine runs %s", name, need[name], have))
		}
	}
	return unmet, undeclared
}

// String lists the runtimes as NAME=VERSION.
func (rt Runtimes) String() string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(rt)) {
		out = append(out, name+"="+rt[name].String())
	}
	return strings.Join(out, ", ")
}
