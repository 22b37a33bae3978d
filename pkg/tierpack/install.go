package tierpack

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/home"
	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/plugin/dist"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/requires"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/trust"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/contrib"
	"github.com/tierpack/tierpack/sdk/tier"
)

// The consumer side: what is installed is remembered in a state file, so
// that update can move it forward (never below the tier it was installed
// at) and audit can notice when it has been demoted since.
//
// Resolution of install's NAME|REF: an argument with a registry host, an
// oci: layout, a tag or a digest is a reference, used as given; a bare NAME
// is looked up in the configured indexes first (including falcoctl's),
// then taken as a name in the local store.
//
// Versions: without a tag, install and update take the repository's
// semver tags, newest first, within --version's range, and keep the first
// whose verified tier (the trust gate's, never an index's word) is at
// least the required tier. They look at most maxCandidates of them.

// maxCandidates bounds the versions install and update verify in search
// of one at the required tier.
const maxCandidates = 32

// Installation is one installed artifact, as the state file records it.
type Installation struct {
	Name string `json:"name"`
	// Source is the repository the versions come from (no tag).
	Source  string `json:"source"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
	Type    string `json:"type"`
	// VerifiedTier is the tier the gate verified when it was installed;
	// RequiredTier the tier it must keep.
	VerifiedTier string `json:"verifiedTier"`
	RequiredTier string `json:"requiredTier"`
	// Range is the semver constraint versions must meet; empty for any.
	Range       string    `json:"range,omitempty"`
	Destination string    `json:"destination"`
	Installed   time.Time `json:"installed"`
	// RequiredBy names the installations that need this one; Dependency
	// is set when it was installed only as one (uninstalling the last of
	// them removes it).
	RequiredBy []string `json:"requiredBy,omitempty"`
	Dependency bool     `json:"dependency,omitempty"`
	// Plugin is set on a dependency that is a tierpack plugin: plugin
	// install's, kept in the plugins' lock.json, not in the state file.
	Plugin bool `json:"plugin,omitempty"`
}

// Reference is the installed version's reference, by digest.
func (i Installation) Reference() string { return i.Source + "@" + i.Digest }

// installState is the state file.
type installState struct {
	APIVersion    string         `json:"apiVersion"`
	Installations []Installation `json:"installations"`
}

const installStateVersion = "tierpack.dev/installed/v1"

// statePath is the state file: file, or $TIERPACK_HOME/installed.json.
func (c *Client) statePath(file string) (string, error) {
	if file != "" {
		return filepath.Abs(file)
	}
	h, err := c.home()
	if err != nil {
		return "", errors.New("no data folder for the installed state: set TIERPACK_HOME, or give {State}")
	}
	return filepath.Join(h.Root(), "installed.json"), nil
}

// withState runs fn on the state file under its lock (install, update and
// follow may run together) and, when fn changed it, writes it atomically.
func (c *Client) withState(ctx context.Context, file string, fn func(*installState) (bool, error)) error {
	path, err := c.statePath(file)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	lock, err := home.Lock(ctx, path+".lock", home.LockOptions{What: path})
	if err != nil {
		return err
	}
	defer lock.Close()
	st := &installState{APIVersion: installStateVersion}
	switch b, err := os.ReadFile(path); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(b, st); err != nil {
			return fmt.Errorf("%s: %w (it is tierpack's record of what is installed: restore it, or remove it and install again)", path, err)
		}
	}
	changed, err := fn(st)
	if err != nil || !changed {
		return err
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return home.WriteFileAtomic(path, append(b, '\n'), 0o644)
}

// readState reads the state file without changing it.
func (c *Client) readState(ctx context.Context, file string) (*installState, error) {
	var out *installState
	err := c.withState(ctx, file, func(st *installState) (bool, error) { out = st; return false, nil })
	return out, err
}

// candidate is a version of a source, verified.
type candidate struct {
	ref     string // source:tag, or source@digest
	version string
	info    *artifact.Info
	verdict trust.Verdict
	// needs is what the version requires (its annotation, or a falcoctl
	// artifact's config); passedOver says why each newer version was not
	// taken, newest first.
	needs      contrib.Requires
	passedOver []string
	// plugin is set for a tierpack plugin (versionPick.plugins): it has
	// no tier; plugin install verifies its signature.
	plugin bool
}

// versionPick is what a version must meet besides its tier: a semver
// range and this machine's runtimes (nil: not checked).
type versionPick struct {
	rng      *semver.Constraints
	runtimes requires.Runtimes
	// plugins takes a version that is a tierpack plugin (dist.ArtifactType)
	// as it is found: a dependency may be the plugin its type needs.
	plugins bool
}

// nameResolver resolves install's argument and the names dependencies give to
// repository references, reading the configured indexes once.
type nameResolver struct {
	c *Client
	// names maps an index NAME to its repository, the first index's
	// entry first; nil until the indexes are read.
	names map[string]string
}

// resolve is arg's repository reference (and the version it names, if
// any): arg itself when it has a registry host, an oci: layout, a tag or a
// digest; a bare NAME is looked up in the configured indexes first
// (including falcoctl's), then taken as a name in the local store.
func (s *nameResolver) resolve(arg string) (target.Ref, error) {
	ref, err := parseRef(arg)
	if err != nil || ref.Kind != target.Local || ref.Reference() != "" {
		return ref, err
	}
	if s.names == nil {
		s.names = map[string]string{}
		if named, _, err := s.c.readIndexes(SearchRequest{}); err == nil {
			for _, e := range index.Merge(named...).Entries {
				if _, ok := s.names[e.Name]; !ok {
					s.names[e.Name] = e.Repository
				}
			}
		}
	}
	if repo, ok := s.names[arg]; ok {
		return parseRef(repo)
	}
	return ref, nil
}

// resolveVersion finds the version of repo to install: the one repo names,
// or the newest tag meeting pick whose verified tier admits want. It fails
// with a *trust.RefusedError-wrapping error naming what it saw when none
// does.
func (c *Client) resolveVersion(ctx context.Context, gate trust.Gate, repo target.Ref, pick versionPick, want tier.Tier) (*candidate, error) {
	t, err := c.openRef(ctx, repo, true)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	g := gate.For(artifact.Identity(t.Ref))
	if repo.Reference() != "" {
		cand, err := c.candidateAt(ctx, g, t, repo.Reference(), pick)
		if err != nil || cand.plugin {
			return cand, err
		}
		if len(cand.passedOver) > 0 {
			return nil, fmt.Errorf("%s: %s", t.Ref, cand.passedOver[0])
		}
		if info := cand.info; info.Version != "" {
			cand.version = info.Version
		}
		if err := trust.Admit(t.Ref.String(), cand.verdict, want); err != nil {
			return nil, err
		}
		return cand, nil
	}
	cand, seen, err := c.newestAt(ctx, t, g, want, pick, "", maxCandidates)
	if err != nil || cand != nil {
		return cand, err
	}
	what := "no semver tag"
	if pick.rng != nil {
		what = "no semver tag within " + pick.rng.String()
	}
	if len(seen) > 0 {
		what = "no version at " + want.String() + " or higher"
		if pick.runtimes != nil {
			what += " that this machine's runtimes (" + pick.runtimes.String() + ") can run"
		}
		what += ": " + strings.Join(seen, "; ")
	}
	return nil, fmt.Errorf("%w: %s: %s", tier.ErrBelow, t.Ref, what)
}

// candidateAt resolves t (one version, named by version), reads what it
// requires and — unless this machine cannot run it (pick.runtimes), which
// candidateAt says in passedOver — has the gate g verify its tier.
func (c *Client) candidateAt(ctx context.Context, g trust.Gate, t *target.Target, version string, pick versionPick) (*candidate, error) {
	info, err := artifact.Resolve(ctx, t, nil)
	if err != nil {
		return nil, err
	}
	cand := &candidate{ref: t.Ref.String(), version: version, info: info}
	if pick.plugins && info.ArtifactType == dist.ArtifactType {
		cand.plugin = true
		return cand, nil
	}
	if cand.needs, err = c.needsOf(ctx, t, info, pick.runtimes != nil); err != nil {
		return nil, err
	}
	if pick.runtimes != nil {
		unmet, undeclared := pick.runtimes.Unmet(cand.needs.Runtimes)
		if len(unmet) > 0 {
			cand.passedOver = []string{version + ": " + strings.Join(unmet, "; ")}
			return cand, nil
		}
		if len(undeclared) > 0 {
			slog.Warn("a runtime requirement is not checked: this machine does not declare the runtime (give --runtime NAME=VERSION, or TIERPACK_RUNTIMES)", "ref", t.Ref.String(), "needs", strings.Join(undeclared, ", "))
		}
	}
	cand.verdict = c.verdictOf(ctx, g, t, info.Root(), info.Annotations)
	return cand, nil
}

// needsOf is what info requires: tierpack's annotation, or — when
// runtimes are checked — the requirements in a config in falcoctl's
// format (falcoctl's artifacts, tierpack's falco-rules type).
func (c *Client) needsOf(ctx context.Context, t *target.Target, info *artifact.Info, runtimes bool) (contrib.Requires, error) {
	r, err := requires.FromAnnotations(info.Annotations)
	if err != nil {
		return r, fmt.Errorf("%s: %w", t.Ref, err)
	}
	if !runtimes || !artifact.HasFalcoctlConfig(info) {
		return r, nil
	}
	cfg, err := artifact.FalcoctlConfigOf(ctx, t, info)
	if err != nil {
		return r, err
	}
	rt, unknown := requires.FromFalcoctl(cfg.Requirements)
	if len(unknown) > 0 {
		slog.Warn("falcoctl requirements tierpack does not know are not checked", "ref", t.Ref.String(), "requirements", strings.Join(unknown, ", "))
	}
	if len(rt) > 0 {
		r.Runtimes = rt
	}
	return r, nil
}

// newestAt is the newest semver tag of t's repository — meeting pick,
// other than skip — whose tier g verifies at want or higher, among the
// newest limit of them; nil when none is, with what each tag passed over
// was (seen). Install, update and a refused pull's offer of another
// version share it.
func (c *Client) newestAt(ctx context.Context, t *target.Target, g trust.Gate, want tier.Tier, pick versionPick, skip string, limit int) (*candidate, []string, error) {
	versions, err := versionTags(ctx, t, pick.rng, skip)
	if err != nil {
		return nil, nil, err
	}
	var seen []string
	for i, v := range versions {
		if i >= limit || ctx.Err() != nil {
			break
		}
		tt := *t
		tt.Ref = t.Ref.WithTag(v)
		cand, err := c.candidateAt(ctx, g, &tt, v, pick)
		switch {
		case err != nil:
			seen = append(seen, v+": "+err.Error())
		case len(cand.passedOver) > 0:
			seen = append(seen, cand.passedOver...)
		case cand.plugin || cand.verdict.Admits(want):
			cand.passedOver = seen
			return cand, seen, nil
		default:
			seen = append(seen, v+": "+cand.verdict.String())
		}
	}
	return nil, seen, nil
}

// versionTags are the semver tags of t's repository within rng (nil: any)
// other than skip, newest first.
func versionTags(ctx context.Context, t *target.Target, rng *semver.Constraints, skip string) ([]string, error) {
	tags, err := index.Tags(ctx, t)
	if err != nil {
		return nil, err
	}
	var versions []string
	for _, tag := range tags {
		if tag == skip || !contrib.IsSemver(tag) {
			continue
		}
		if rng != nil {
			if v, err := semver.NewVersion(tag); err != nil || !rng.Check(v) {
				continue
			}
		}
		versions = append(versions, tag)
	}
	slices.SortFunc(versions, func(x, y string) int { return index.CompareVersions(y, x) })
	return versions, nil
}

// InstallRequest asks for a contribution to be installed.
type InstallRequest struct {
	// Name is a NAME (looked up in the indexes, then the local store) or
	// a reference.
	Name string
	// Range is a semver constraint ("^1.2", ">=0.3 <0.5"); empty for any.
	Range string
	// Tier is the tier required of it, now and on every update; None
	// takes InstallConfigFile's tier. One of them is required: nothing is
	// installed at contrib by default.
	Tier tier.Tier
	// OutputDir is where it goes; empty means the folder for its type
	// (see InstallConfigFile), by default $TIERPACK_HOME/installed/NAME.
	OutputDir string
	// State is the state file; empty means $TIERPACK_HOME/installed.json.
	State string
	// KeyFiles are trusted public keys beyond the configured ones.
	KeyFiles []string
	// Runtimes are this machine's runtimes, NAME=VERSION: versions whose
	// requires.runtimes they do not meet are passed over. Empty: not
	// checked.
	Runtimes []string
}

// InstallResult reports an install.
type InstallResult struct {
	Installation Installation `json:"installation"`
	// Dependencies are the artifacts installed (or kept) with it.
	Dependencies []Installation `json:"dependencies,omitempty"`
	// PassedOver says why each newer version was not taken.
	PassedOver []string `json:"passedOver,omitempty"`
	// Unchanged is set when that version was installed there already.
	Unchanged bool `json:"unchanged,omitempty"`
}

// Install installs the newest version of req.Name verified at req.Tier or
// higher (within req.Range, runnable by req.Runtimes), with every artifact
// it requires — each verified at req.Tier or higher too, so an official
// artifact never brings a contrib one along — unpacked atomically into
// their folders, and records them in the state file, last. Installing
// what is installed already is a no-op.
func (c *Client) Install(ctx context.Context, req InstallRequest) (*InstallResult, error) {
	cfg, err := c.installConfig()
	if err != nil {
		return nil, err
	}
	if req.Tier <= tier.None {
		req.Tier = cfg.tier()
	}
	if req.Tier <= tier.None {
		return nil, usagef("install needs the tier to require of it ({Tier} contrib, repository or official, or tier: in $TIERPACK_HOME/%s): nothing is installed at contrib unless asked", InstallConfigFile)
	}
	var rng *semver.Constraints
	if req.Range != "" {
		var err error
		if rng, err = semver.NewConstraint(req.Range); err != nil {
			return nil, usagef("{Range} %q is not a semver range (e.g. ^1.2, ~0.3, >=1.0 <2.0): %v", req.Range, err)
		}
	}
	rt, err := cfg.runtimes(req.Runtimes)
	if err != nil {
		return nil, err
	}
	srcs := &nameResolver{c: c}
	repo, err := srcs.resolve(req.Name)
	if err != nil {
		return nil, err
	}
	if rng != nil && repo.Reference() != "" {
		return nil, usagef("%s names a version: give a range with {Range} or a tag, not both", req.Name)
	}
	gate, err := c.gate(req.KeyFiles)
	if err != nil {
		return nil, err
	}
	cand, err := c.resolveVersion(ctx, gate, repo, versionPick{rng: rng, runtimes: rt}, req.Tier)
	if err != nil {
		return nil, err
	}
	inst, err := c.installationOf(cfg, repo, cand, req.Tier, req.Range, req.OutputDir)
	if err != nil {
		return nil, err
	}
	res := &InstallResult{Installation: inst, PassedOver: cand.passedOver}
	err = c.withState(ctx, req.State, func(st *installState) (bool, error) {
		if old := st.find(inst.Name); old != nil && old.Digest == inst.Digest && old.Destination == inst.Destination &&
			old.RequiredTier == inst.RequiredTier && old.Range == inst.Range {
			if _, err := os.Stat(inst.Destination); err == nil {
				res.Installation, res.Unchanged = *old, true
				return false, nil
			}
		}
		steps := []Installation{inst}
		pl := &planner{c: c, gate: gate, cfg: cfg, st: st, srcs: srcs, want: req.Tier, rt: rt, path: map[string]bool{inst.Source: true}}
		if err := pl.deps(ctx, inst, cand.needs); err != nil {
			return false, err
		}
		deps := pl.chosen
		steps = append(steps, deps...)
		if err := c.apply(ctx, st, steps, req.KeyFiles); err != nil {
			return false, err
		}
		res.Dependencies = deps
		return true, nil
	})
	return res, err
}

// installationOf is the installation of cand from repo: into dest, or
// the default folder for its type (defaultDir).
func (c *Client) installationOf(cfg *InstallConfig, repo target.Ref, cand *candidate, want tier.Tier, rng, dest string) (Installation, error) {
	name := cand.info.Name
	if name == "" {
		name = filepath.Base(repo.Repository)
	}
	if !contrib.ValidName(name) {
		// The name is the publisher's word (an annotation), and it names
		// a folder: never a path.
		return Installation{}, fmt.Errorf("%w: %s names itself %q, which is not a contribution name (lower-case letters, digits, '.', '_', '-'), and it would name a folder",
			ErrRefusedName, repo, name)
	}
	if dest == "" {
		var err error
		if dest, err = c.defaultDir(cfg, cand.info.Type, name, cand.info.Falcoctl); err != nil {
			return Installation{}, err
		}
	}
	dest, err := filepath.Abs(dest)
	if err != nil {
		return Installation{}, err
	}
	return Installation{
		Name: name, Source: repo.WithTag("").String(), Version: cand.version, Digest: cand.info.Digest, Type: cand.info.Type,
		VerifiedTier: cand.verdict.Effective().String(), RequiredTier: want.String(), Range: rng, Destination: dest,
		Installed: time.Now().UTC().Truncate(time.Second),
	}, nil
}

// find is the installation named name, or nil.
func (st *installState) find(name string) *Installation {
	if i := slices.IndexFunc(st.Installations, func(x Installation) bool { return x.Name == name }); i >= 0 {
		return &st.Installations[i]
	}
	return nil
}

// maxDependencies bounds the artifacts one install brings along.
const maxDependencies = 64

// planner resolves the dependency graph of one install or update.
type planner struct {
	c    *Client
	gate trust.Gate
	cfg  *InstallConfig
	st   *installState
	srcs *nameResolver
	// want is the tier required of the root, so of everything it needs;
	// rt this machine's runtimes.
	want tier.Tier
	rt   requires.Runtimes
	// path holds the sources on the way to the artifact being planned (a
	// cycle is an error); chosen is what the plan took so far.
	path   map[string]bool
	chosen []Installation
}

// deps adds what parent needs (needs.Artifacts) to the plan,
// transitively: for each, the newest version within its range that this
// machine can run and the gate verifies at p.want or higher — the tier
// required of the root, so a tier holds through the graph. An artifact
// already installed within range at that tier stays as it is.
func (p *planner) deps(ctx context.Context, parent Installation, needs contrib.Requires) error {
	for _, dep := range needs.Artifacts {
		if len(p.chosen) >= maxDependencies {
			return fmt.Errorf("%s needs more than %d artifacts in all: tierpack stops there", parent.Name, maxDependencies)
		}
		repo, err := p.srcs.resolve(dep.Name)
		if err != nil {
			return fmt.Errorf("%s needs %s: %w", parent.Name, dep.Name, err)
		}
		if repo.Kind == target.Layout && !strings.HasPrefix(parent.Source, "oci:") {
			// A folder on this machine is not the publisher's to name.
			return fmt.Errorf("%w: %s needs %q, a folder on this machine: a dependency is a registry reference or an index NAME", ErrRefusedName, parent.Name, dep.Name)
		}
		src := repo.WithTag("").String()
		if p.path[src] {
			return fmt.Errorf("dependency cycle: %s needs %s, which needs it in turn: a cycle cannot be installed", parent.Name, dep.Name)
		}
		var rng *semver.Constraints
		if dep.Version != "" {
			if rng, err = semver.NewConstraint(dep.Version); err != nil {
				return fmt.Errorf("%s needs %s %q, which is not a semver range: %w", parent.Name, dep.Name, dep.Version, err)
			}
		}
		if i := slices.IndexFunc(p.chosen, func(x Installation) bool { return x.Source == src }); i >= 0 {
			// Already in this plan: it must suit this dependent too.
			took := &p.chosen[i]
			if err := meets(*took, rng); err != nil {
				return fmt.Errorf("dependency conflict: %s needs %s %s, but %s: %w", parent.Name, dep.Name, dep.Version, took.RequiredBy[0]+" takes "+took.Version, err)
			}
			took.RequiredBy = appendNew(took.RequiredBy, parent.Name)
			continue
		}
		if old := installedFrom(p.st, src); old != nil && meets(*old, rng) == nil && tierOf(old.VerifiedTier) >= p.want {
			// Installed already, within range and tier: kept (update
			// moves it, within every range recorded).
			kept := *old
			kept.RequiredBy = appendNew(kept.RequiredBy, parent.Name)
			kept.Range = joinRanges(kept.Range, dep.Version)
			kept.RequiredTier = max(tierOf(kept.RequiredTier), p.want).String()
			p.chosen = append(p.chosen, kept)
			continue
		}
		cand, err := p.c.resolveVersion(ctx, p.gate, repo, versionPick{rng: rng, runtimes: p.rt, plugins: true}, p.want)
		if err != nil {
			// The weakest link, named.
			return fmt.Errorf("%s (required at %s) needs %s %s: %w", parent.Name, p.want, dep.Name, orAny(dep.Version), err)
		}
		if cand.plugin {
			// The plugin a type needs: installed as plugin install
			// installs one (signed by a key trusted for plugins, never
			// unsigned), not recorded as an installation.
			a := cand.info.Annotations
			p.chosen = append(p.chosen, Installation{Name: cmp.Or(a[sdk.AnnotationPluginType], filepath.Base(repo.Repository)), Source: src,
				Version: cmp.Or(a[ocispec.AnnotationVersion], cand.version), Digest: cand.info.Digest, Type: "plugin",
				Plugin: true, Dependency: true, RequiredBy: []string{parent.Name}})
			continue
		}
		inst, err := p.c.installationOf(p.cfg, repo, cand, p.want, dep.Version, "")
		if err != nil {
			return err
		}
		inst.RequiredBy, inst.Dependency = []string{parent.Name}, true
		p.chosen = append(p.chosen, inst)
		p.path[src] = true
		err = p.deps(ctx, inst, cand.needs)
		delete(p.path, src)
		if err != nil {
			return err
		}
	}
	return nil
}

// meets checks that inst's version is within rng (nil: any).
func meets(inst Installation, rng *semver.Constraints) error {
	if rng == nil {
		return nil
	}
	v, err := semver.NewVersion(inst.Version)
	if err != nil || !rng.Check(v) {
		return fmt.Errorf("%s %s is not within %s", inst.Name, inst.Version, rng)
	}
	return nil
}

// installedFrom is the installation of source src, or nil.
func installedFrom(st *installState, src string) *Installation {
	for i := range st.Installations {
		if st.Installations[i].Source == src {
			return &st.Installations[i]
		}
	}
	return nil
}

// joinRanges is the range both a and b allow ("" allows any).
func joinRanges(a, b string) string {
	switch {
	case a == "" || a == b:
		return b
	case b == "":
		return a
	}
	return a + ", " + b
}

func tierOf(s string) tier.Tier { t, _ := tier.Parse(s); return t }

func orAny(rng string) string {
	if rng == "" {
		return "(any version)"
	}
	return rng
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// apply installs steps: each new version is unpacked atomically into its
// folder (what is there already is left as it is), then the state file
// records them all. On a failure, folders this apply created are removed
// and the state is not changed, so nothing is half-installed: the
// previous versions stay where they were.
func (c *Client) apply(ctx context.Context, st *installState, steps []Installation, keyFiles []string) (err error) {
	var created []string
	defer func() {
		if err != nil {
			for _, d := range created {
				os.RemoveAll(d)
			}
		}
	}()
	for _, inst := range steps {
		if !inst.Plugin {
			continue
		}
		if src, ok := c.pluginSource(inst.Name); ok && src.Pin != nil && src.Pin.Digest == inst.Digest {
			continue // installed from that digest already
		}
		if _, err := c.PluginInstall(ctx, PluginInstallRequest{Ref: inst.Reference(), KeyFiles: keyFiles}); err != nil {
			return fmt.Errorf("the plugin %s needs: %w", strings.Join(inst.RequiredBy, ", "), err)
		}
	}
	for _, inst := range steps {
		if inst.Plugin {
			continue
		}
		old := st.find(inst.Name)
		if old != nil && old.Source != inst.Source {
			return fmt.Errorf("%s from %s would replace the installation of the same name from %s: uninstall it first", inst.Name, inst.Source, old.Source)
		}
		if old != nil && old.Digest == inst.Digest && old.Destination == inst.Destination {
			if _, err := os.Stat(inst.Destination); err == nil {
				continue
			}
		}
		if old == nil || old.Destination != inst.Destination {
			// Never replace a folder this installation does not own.
			if entries, err := os.ReadDir(inst.Destination); err == nil && len(entries) > 0 {
				return usagef("%s exists and is not empty: install %s into another folder with {OutputDir}, or remove it first", inst.Destination, inst.Name)
			}
		}
		_, statErr := os.Stat(inst.Destination)
		if _, err := c.Pull(ctx, PullRequest{Ref: inst.Reference(), OutputDir: inst.Destination, MinTier: tierOf(inst.RequiredTier), Force: true, KeyFiles: keyFiles}); err != nil {
			return fmt.Errorf("%s: %w", inst.Name, err)
		}
		if statErr != nil {
			created = append(created, inst.Destination)
		}
	}
	for _, inst := range steps {
		if inst.Plugin {
			continue
		}
		if old := st.find(inst.Name); old != nil {
			if old.Destination != inst.Destination {
				// The same name installed elsewhere: it moved.
				os.RemoveAll(old.Destination)
			}
			*old = inst
		} else {
			st.Installations = append(st.Installations, inst)
		}
	}
	return nil
}

// InstalledRow is an installation and its tier now.
type InstalledRow struct {
	Installation
	// CurrentTier is the verified tier now ("" when it could not be
	// checked: Problem says why); Admitted whether it still meets the
	// required tier.
	CurrentTier string `json:"currentTier"`
	Admitted    bool   `json:"admitted"`
	// Verdict says it as people read it, with the demotion if any.
	Verdict string `json:"verdict,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// InstalledResult lists what is installed.
type InstalledResult struct {
	Installed []InstalledRow `json:"installed"`
}

// Installed lists the installations in the state file with their tier
// now, verified again.
func (c *Client) Installed(ctx context.Context, state string, keyFiles []string) (*InstalledResult, error) {
	st, err := c.readState(ctx, state)
	if err != nil {
		return nil, err
	}
	gate, err := c.gate(keyFiles)
	if err != nil {
		return nil, err
	}
	res := &InstalledResult{Installed: []InstalledRow{}}
	for _, inst := range st.Installations {
		res.Installed = append(res.Installed, c.recheck(ctx, gate, inst))
	}
	return res, nil
}

// recheck verifies an installation's digest now.
func (c *Client) recheck(ctx context.Context, gate trust.Gate, inst Installation) InstalledRow {
	row := InstalledRow{Installation: inst}
	want, err := tier.Parse(inst.RequiredTier)
	if err != nil {
		row.Problem = err.Error()
		return row
	}
	t, info, err := c.resolve(ctx, inst.Reference(), true, nil)
	if err != nil {
		row.Problem = err.Error()
		return row
	}
	defer t.Close()
	v := c.verdictOf(ctx, gate.For(artifact.Identity(t.Ref)), t, info.Root(), info.Annotations)
	row.CurrentTier, row.Admitted, row.Verdict = v.Effective().String(), v.Admits(want), v.String()
	if !row.Admitted {
		row.Problem = (&trust.RefusedError{Subject: inst.Reference(), Want: want, Verdict: v}).Error()
	}
	return row
}

// UninstallResult reports a removal.
type UninstallResult struct {
	Removed Installation `json:"removed"`
	// Dependencies are the artifacts installed only for it, removed too.
	Dependencies []Installation `json:"dependencies,omitempty"`
}

// Uninstall removes an installation's folder and its record, and the
// dependencies nothing else installed needs. It refuses to remove what
// another installation requires.
func (c *Client) Uninstall(ctx context.Context, name, state string) (*UninstallResult, error) {
	res := &UninstallResult{}
	err := c.withState(ctx, state, func(st *installState) (bool, error) {
		inst := st.find(name)
		if inst == nil {
			return false, fmt.Errorf("%w: nothing named %q is installed (tierpack installed lists what is)", errNotInstalled, name)
		}
		if len(inst.RequiredBy) > 0 {
			return false, fmt.Errorf("%s is required by %s: uninstall that first", name, strings.Join(inst.RequiredBy, ", "))
		}
		res.Removed = *inst
		remove := []string{name}
		for i := 0; i < len(remove); i++ {
			for j := range st.Installations {
				d := &st.Installations[j]
				if !slices.Contains(d.RequiredBy, remove[i]) {
					continue
				}
				d.RequiredBy = slices.DeleteFunc(d.RequiredBy, func(x string) bool { return x == remove[i] })
				if len(d.RequiredBy) == 0 && d.Dependency && !slices.Contains(remove, d.Name) {
					remove = append(remove, d.Name)
					res.Dependencies = append(res.Dependencies, *d)
				}
			}
		}
		for _, n := range remove {
			if err := os.RemoveAll(st.find(n).Destination); err != nil {
				return false, err
			}
			st.Installations = slices.DeleteFunc(st.Installations, func(x Installation) bool { return x.Name == n })
		}
		return true, nil
	})
	return res, err
}

// ErrRefusedName is wrapped when an artifact's name could not name its
// installation folder.
var ErrRefusedName = fmt.Errorf("artifact name refused: %w", artifact.ErrRefusedContent)

// errNotInstalled is wrapped when a name is not in the state file.
var errNotInstalled = fmt.Errorf("not installed: %w", errdef.ErrNotFound)

// Demotion policies for update (UpdateRequest.OnDemotion).
const (
	OnDemotionRollback = "rollback"
	OnDemotionRemove   = "remove"
	OnDemotionFail     = "fail"
)

// UpdateRequest asks for installations to be moved forward.
type UpdateRequest struct {
	// Names limits the update; empty means every installation.
	Names []string
	// DryRun reports what would change and changes nothing.
	DryRun bool
	// OnDemotion is what to do with an installation whose digest was
	// demoted below its required tier: rollback (the default: the newest
	// version still at the tier), remove, or fail.
	OnDemotion string
	State      string
	KeyFiles   []string
	// Runtimes are this machine's runtimes (InstallRequest.Runtimes).
	Runtimes []string
}

// UpdateRow is what update did, or would do, to one installation.
type UpdateRow struct {
	Name string `json:"name"`
	From string `json:"from"`
	To   string `json:"to,omitempty"`
	// Action is "unchanged", "updated", "rolled back", "removed" or
	// "failed".
	Action string `json:"action"`
	// Why says why, with the demotion's record when there was one.
	Why string `json:"why,omitempty"`
}

// UpdateResult reports an update.
type UpdateResult struct {
	Updates []UpdateRow `json:"updates"`
	DryRun  bool        `json:"dryRun,omitempty"`
}

// Update moves each installation to the newest version verified at its
// required tier or higher within its range, that this machine's runtimes
// can run, with what that version requires; it never moves one below
// that tier. An installation whose digest was demoted below it is rolled
// back to the newest version still at the tier, or removed, or fails, as
// req.OnDemotion says. New versions are unpacked beside the old ones and
// switched in atomically, and the state file changes last: a failure or a
// kill leaves the previous installation intact.
func (c *Client) Update(ctx context.Context, req UpdateRequest) (*UpdateResult, error) {
	switch req.OnDemotion {
	case "":
		req.OnDemotion = OnDemotionRollback
	case OnDemotionRollback, OnDemotionRemove, OnDemotionFail:
	default:
		return nil, usagef("{OnDemotion} %q: use rollback, remove or fail", req.OnDemotion)
	}
	cfg, err := c.installConfig()
	if err != nil {
		return nil, err
	}
	rt, err := cfg.runtimes(req.Runtimes)
	if err != nil {
		return nil, err
	}
	gate, err := c.gate(req.KeyFiles)
	if err != nil {
		return nil, err
	}
	res := &UpdateResult{Updates: []UpdateRow{}, DryRun: req.DryRun}
	srcs := &nameResolver{c: c}
	var failed []error
	err = c.withState(ctx, req.State, func(st *installState) (bool, error) {
		for _, n := range req.Names {
			if st.find(n) == nil {
				return false, fmt.Errorf("%w: nothing named %q is installed", errNotInstalled, n)
			}
		}
		var names []string
		for _, inst := range st.Installations {
			if len(req.Names) == 0 || slices.Contains(req.Names, inst.Name) {
				names = append(names, inst.Name)
			}
		}
		for _, n := range names {
			inst := st.find(n)
			if inst == nil {
				continue
			}
			row, err := c.updateOne(ctx, gate, cfg, srcs, st, *inst, req, rt)
			res.Updates = append(res.Updates, row)
			if err != nil {
				failed = append(failed, fmt.Errorf("%s: %w", n, err))
			}
		}
		return changedAny(res) && !req.DryRun, nil
	})
	if err != nil {
		return res, err
	}
	return res, errors.Join(failed...)
}

// updateOne decides, and unless a dry run does, what happens to inst,
// changing st accordingly.
func (c *Client) updateOne(ctx context.Context, gate trust.Gate, cfg *InstallConfig, srcs *nameResolver, st *installState, inst Installation, req UpdateRequest, rt requires.Runtimes) (UpdateRow, error) {
	row := UpdateRow{Name: inst.Name, From: inst.Version + " (" + promotion.ShortDigest(inst.Digest) + ")", Action: "unchanged"}
	fail := func(err error) (UpdateRow, error) {
		row.Action, row.Why = "failed", err.Error()
		return row, err
	}
	want, err := tier.Parse(inst.RequiredTier)
	if err != nil {
		return fail(err)
	}
	var rng *semver.Constraints
	if inst.Range != "" {
		if rng, err = semver.NewConstraint(inst.Range); err != nil {
			return fail(err)
		}
	}
	repo, err := parseRef(inst.Source)
	if err != nil {
		return fail(err)
	}
	cand, err := c.resolveVersion(ctx, gate, repo, versionPick{rng: rng, runtimes: rt}, want)
	if err == nil && cand.info.Digest == inst.Digest {
		// The newest version at the tier is the one installed: verified
		// just now, so not demoted. This is a check with nothing changed,
		// and it costs no second verification of the same digest.
		row.Why = stoppedAt(inst.Version, cand.passedOver)
		return row, nil
	}
	now := c.recheck(ctx, gate, inst)
	demoted := now.Problem != "" && now.CurrentTier != ""
	if demoted && req.OnDemotion == OnDemotionRemove {
		row.Action, row.Why = "removed", now.Problem
		if err != nil {
			row.Why += "; no version is left at " + want.String()
		}
		if !req.DryRun {
			if rerr := os.RemoveAll(inst.Destination); rerr != nil {
				return row, rerr
			}
			st.Installations = slices.DeleteFunc(st.Installations, func(x Installation) bool { return x.Name == inst.Name })
		}
		return row, nil
	}
	switch {
	case err != nil && demoted:
		row.Action, row.Why = "failed", now.Problem+"; and no version is left at "+want.String()+": "+err.Error()
		return row, fmt.Errorf("%w: %s", tier.ErrBelow, row.Why)
	case err != nil:
		row.Why = "no newer version: " + err.Error()
		return row, nil
	case demoted && req.OnDemotion == OnDemotionFail:
		row.Action, row.Why = "failed", now.Problem
		return row, fmt.Errorf("%w: %s", tier.ErrBelow, now.Problem)
	}
	next := inst
	next.Version, next.Digest, next.VerifiedTier = cand.version, cand.info.Digest, cand.verdict.Effective().String()
	next.Installed = time.Now().UTC().Truncate(time.Second)
	row.To = next.Version + " (" + promotion.ShortDigest(next.Digest) + ")"
	row.Action, row.Why = "updated", stoppedAt(next.Version, cand.passedOver)
	if demoted {
		row.Action, row.Why = "rolled back", now.Problem
	}
	pl := &planner{c: c, gate: gate, cfg: cfg, st: st, srcs: srcs, want: want, rt: rt, path: map[string]bool{next.Source: true}}
	if err := pl.deps(ctx, next, cand.needs); err != nil {
		// Its dependencies cannot be had at the tier: it stays.
		return fail(fmt.Errorf("%s stays at %s: %w", inst.Name, inst.Version, err))
	}
	if req.DryRun {
		return row, nil
	}
	if err := c.apply(ctx, st, append([]Installation{next}, pl.chosen...), req.KeyFiles); err != nil {
		return fail(err)
	}
	return row, nil
}

// stoppedAt says why update stopped at version when newer ones were
// passed over (for their tier, or a runtime this machine does not meet).
func stoppedAt(version string, passedOver []string) string {
	if len(passedOver) == 0 {
		return ""
	}
	return "stopped at " + version + ": " + strings.Join(passedOver, "; ")
}

// AuditResult lists what no longer meets its required tier.
type AuditResult struct {
	Installed []InstalledRow    `json:"installed"`
	Plugins   []PluginVerifyRow `json:"plugins"`
	// Offenders counts the installations and plugins that failed.
	Offenders int `json:"offenders"`
}

// ErrAudit is wrapped when an audit finds an installation below its
// required tier or a plugin no longer trusted.
var ErrAudit = fmt.Errorf("audit failed: %w", tier.ErrBelow)

// Audit re-verifies every installation and every installed plugin now:
// signatures, current tier, demotions, revocations. Its error wraps
// ErrAudit (exit 4) when any no longer meets its required tier.
func (c *Client) Audit(ctx context.Context, state string, keyFiles []string) (*AuditResult, error) {
	inst, err := c.Installed(ctx, state, keyFiles)
	if err != nil {
		return nil, err
	}
	res := &AuditResult{Installed: inst.Installed, Plugins: []PluginVerifyRow{}}
	for _, r := range inst.Installed {
		if !r.Admitted {
			res.Offenders++
		}
	}
	if h, err := c.home(); err == nil {
		if _, err := os.Stat(filepath.Join(h.Plugins(), "lock.json")); err == nil {
			pv, _ := c.PluginVerify(ctx, nil)
			if pv != nil {
				res.Plugins = pv.Plugins
				for _, p := range pv.Plugins {
					if p.Problem != "" {
						res.Offenders++
					}
				}
			}
		}
	}
	if res.Offenders > 0 {
		return res, fmt.Errorf("%w: %d installation(s) or plugin(s) no longer meet their required tier or trust", ErrAudit, res.Offenders)
	}
	return res, nil
}

// FollowRequest asks for update in a loop, for a sidecar.
type FollowRequest struct {
	Update UpdateRequest
	// Every is the time between checks; Jitter the fraction of it each
	// wait varies by, up or down (0.1: ±10%), so a fleet does not check
	// in step.
	Every  time.Duration
	Jitter float64
	// Once checks once and returns.
	Once bool
	// Changed, if set, is called after a check that changed something.
	Changed func(ctx context.Context, res *UpdateResult) error
	// Checked, if set, is told about every check.
	Checked func(res *UpdateResult, err error)
}

// Follow runs Update every req.Every (± jitter) until ctx ends, which is
// a clean end: a sidecar stopped by SIGTERM exits 0. A failed check is
// reported to Checked and retried at the next one; with Once, its error
// is Follow's.
func (c *Client) Follow(ctx context.Context, req FollowRequest) error {
	if req.Every <= 0 {
		req.Every = 6 * time.Hour
	}
	if req.Jitter < 0 || req.Jitter >= 1 {
		return usagef("{Jitter} must be a fraction of the interval below 100%%")
	}
	for {
		res, err := c.Update(ctx, req.Update)
		if ctx.Err() != nil {
			return nil
		}
		if req.Checked != nil {
			req.Checked(res, err)
		}
		if err == nil && res != nil && req.Changed != nil && !req.Update.DryRun && changedAny(res) {
			if cerr := req.Changed(ctx, res); cerr != nil && req.Checked != nil {
				req.Checked(nil, cerr)
			}
		}
		if req.Once {
			return err
		}
		wait := req.Every
		if req.Jitter > 0 {
			wait += time.Duration((rand.Float64()*2 - 1) * req.Jitter * float64(req.Every))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// changedAny reports whether an update moved, rolled back or removed
// anything.
func changedAny(res *UpdateResult) bool {
	return slices.ContainsFunc(res.Updates, func(u UpdateRow) bool {
		return u.Action == "updated" || u.Action == "rolled back" || u.Action == "removed"
	})
}
