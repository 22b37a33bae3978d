package tierpack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"oras.land/oras-go/v2/errdef"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/home"
	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/trust"
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
}

// source resolves install's argument to a repository reference and the
// version it names, if any.
func (c *Client) source(ctx context.Context, arg string) (repo target.Ref, err error) {
	ref, err := parseRef(arg)
	if err != nil {
		return ref, err
	}
	if ref.Kind != target.Local || ref.Reference() != "" {
		return ref, nil
	}
	// A bare NAME: the configured indexes first.
	if named, _, err := c.readIndexes(SearchRequest{}); err == nil {
		for _, e := range index.Merge(named...).Entries {
			if e.Name == arg {
				return parseRef(e.Repository)
			}
		}
	}
	return ref, nil
}

// resolveVersion finds the version of repo to install: the one repo names,
// or the newest tag within rng whose verified tier admits want. It fails
// with a *trust.RefusedError-wrapping error naming what it saw when none
// does.
func (c *Client) resolveVersion(ctx context.Context, gate trust.Gate, repo target.Ref, rng *semver.Constraints, want tier.Tier) (*candidate, error) {
	t, err := c.openRef(ctx, repo, true)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	g := gate.For(artifact.Identity(t.Ref))
	if repo.Reference() != "" {
		cand, err := c.candidateAt(ctx, g, t, repo.Reference())
		if err != nil {
			return nil, err
		}
		if info := cand.info; info.Version != "" {
			cand.version = info.Version
		}
		if err := trust.Admit(t.Ref.String(), cand.verdict, want); err != nil {
			return nil, err
		}
		return cand, nil
	}
	cand, seen, err := c.newestAt(ctx, t, g, want, rng, "", maxCandidates)
	if err != nil || cand != nil {
		return cand, err
	}
	what := "no semver tag"
	if rng != nil {
		what = "no semver tag within " + rng.String()
	}
	if len(seen) > 0 {
		what = "no version at " + want.String() + " or higher: " + strings.Join(seen, "; ")
	}
	return nil, fmt.Errorf("%w: %s: %s", tier.ErrBelow, t.Ref, what)
}

// candidateAt resolves t (one version, named by version) and has the
// gate g verify its tier.
func (c *Client) candidateAt(ctx context.Context, g trust.Gate, t *target.Target, version string) (*candidate, error) {
	info, err := artifact.Resolve(ctx, t, nil)
	if err != nil {
		return nil, err
	}
	v := c.verdictOf(ctx, g, t, info.Root(), info.Annotations)
	return &candidate{ref: t.Ref.String(), version: version, info: info, verdict: v}, nil
}

// newestAt is the newest semver tag of t's repository — within rng when
// it is set, other than skip — whose tier g verifies at want or higher,
// among the newest limit of them; nil when none is, with what each tag
// passed over was (seen). Install, update and a refused pull's offer of
// another version share it.
func (c *Client) newestAt(ctx context.Context, t *target.Target, g trust.Gate, want tier.Tier, rng *semver.Constraints, skip string, limit int) (*candidate, []string, error) {
	tags, err := index.Tags(ctx, t)
	if err != nil {
		return nil, nil, err
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
	var seen []string
	for i, v := range versions {
		if i >= limit || ctx.Err() != nil {
			break
		}
		tt := *t
		tt.Ref = t.Ref.WithTag(v)
		cand, err := c.candidateAt(ctx, g, &tt, v)
		if err != nil {
			seen = append(seen, v+": "+err.Error())
			continue
		}
		if cand.verdict.Admits(want) {
			return cand, seen, nil
		}
		seen = append(seen, v+": "+cand.verdict.String())
	}
	return nil, seen, nil
}

// InstallRequest asks for a contribution to be installed.
type InstallRequest struct {
	// Name is a NAME (looked up in the indexes, then the local store) or
	// a reference.
	Name string
	// Range is a semver constraint ("^1.2", ">=0.3 <0.5"); empty for any.
	Range string
	// Tier is the tier required of it, now and on every update. Required:
	// nothing is installed at contrib by default.
	Tier tier.Tier
	// OutputDir is where it goes; empty means $TIERPACK_HOME/installed/NAME.
	OutputDir string
	// State is the state file; empty means $TIERPACK_HOME/installed.json.
	State string
	// KeyFiles are trusted public keys beyond the configured ones.
	KeyFiles []string
}

// InstallResult reports an install.
type InstallResult struct {
	Installation Installation `json:"installation"`
	// Unchanged is set when that version was installed there already.
	Unchanged bool `json:"unchanged,omitempty"`
}

// Install installs the newest version of req.Name verified at req.Tier or
// higher (within req.Range), unpacked atomically into its folder, and
// records it in the state file. Installing what is installed already is a
// no-op.
func (c *Client) Install(ctx context.Context, req InstallRequest) (*InstallResult, error) {
	if req.Tier <= tier.None {
		return nil, usagef("install needs the tier to require of it ({Tier} contrib, repository or official): nothing is installed at contrib unless asked")
	}
	var rng *semver.Constraints
	if req.Range != "" {
		var err error
		if rng, err = semver.NewConstraint(req.Range); err != nil {
			return nil, usagef("{Range} %q is not a semver range (e.g. ^1.2, ~0.3, >=1.0 <2.0): %v", req.Range, err)
		}
	}
	repo, err := c.source(ctx, req.Name)
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
	cand, err := c.resolveVersion(ctx, gate, repo, rng, req.Tier)
	if err != nil {
		return nil, err
	}
	name := cand.info.Name
	if name == "" {
		name = filepath.Base(repo.Repository)
	}
	dest := req.OutputDir
	if dest == "" {
		h, err := c.home()
		if err != nil {
			return nil, usagef("no data folder to install into: give {OutputDir}, or set TIERPACK_HOME")
		}
		dest = filepath.Join(h.Root(), "installed", name)
	}
	if dest, err = filepath.Abs(dest); err != nil {
		return nil, err
	}
	inst := Installation{
		Name: name, Source: repo.WithTag("").String(), Version: cand.version, Digest: cand.info.Digest, Type: cand.info.Type,
		VerifiedTier: cand.verdict.Effective().String(), RequiredTier: req.Tier.String(), Range: req.Range, Destination: dest,
		Installed: time.Now().UTC().Truncate(time.Second),
	}
	res := &InstallResult{Installation: inst}
	err = c.withState(ctx, req.State, func(st *installState) (bool, error) {
		i := slices.IndexFunc(st.Installations, func(x Installation) bool { return x.Name == name })
		if i >= 0 {
			old := st.Installations[i]
			if old.Digest == inst.Digest && old.Destination == dest && old.RequiredTier == inst.RequiredTier && old.Range == inst.Range {
				if _, err := os.Stat(dest); err == nil {
					res.Installation, res.Unchanged = old, true
					return false, nil
				}
			}
		}
		if i < 0 || st.Installations[i].Destination != dest {
			// Never replace a folder this installation does not own.
			if entries, err := os.ReadDir(dest); err == nil && len(entries) > 0 {
				return false, usagef("%s exists and is not empty: install into another folder with {OutputDir}, or remove it first", dest)
			}
		}
		if _, err := c.Pull(ctx, PullRequest{Ref: inst.Reference(), OutputDir: dest, MinTier: req.Tier, Force: true, KeyFiles: req.KeyFiles}); err != nil {
			return false, err
		}
		if i >= 0 {
			if old := st.Installations[i].Destination; old != dest {
				// The same name installed elsewhere: it moved.
				os.RemoveAll(old)
			}
			st.Installations[i] = inst
		} else {
			st.Installations = append(st.Installations, inst)
		}
		return true, nil
	})
	return res, err
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
}

// Uninstall removes an installation's folder and its record.
func (c *Client) Uninstall(ctx context.Context, name, state string) (*UninstallResult, error) {
	res := &UninstallResult{}
	err := c.withState(ctx, state, func(st *installState) (bool, error) {
		i := slices.IndexFunc(st.Installations, func(x Installation) bool { return x.Name == name })
		if i < 0 {
			return false, fmt.Errorf("%w: nothing named %q is installed (tierpack installed lists what is)", errNotInstalled, name)
		}
		res.Removed = st.Installations[i]
		if err := os.RemoveAll(res.Removed.Destination); err != nil {
			return false, err
		}
		st.Installations = slices.Delete(st.Installations, i, i+1)
		return true, nil
	})
	return res, err
}

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
// required tier or higher within its range; it never moves one below that
// tier. An installation whose digest was demoted below it is rolled back
// to the newest version still at the tier, or removed, or fails, as
// req.OnDemotion says. The new version is unpacked beside the old one and
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
	gate, err := c.gate(req.KeyFiles)
	if err != nil {
		return nil, err
	}
	res := &UpdateResult{Updates: []UpdateRow{}, DryRun: req.DryRun}
	var failed []error
	err = c.withState(ctx, req.State, func(st *installState) (bool, error) {
		for _, n := range req.Names {
			if !slices.ContainsFunc(st.Installations, func(x Installation) bool { return x.Name == n }) {
				return false, fmt.Errorf("%w: nothing named %q is installed", errNotInstalled, n)
			}
		}
		changed := false
		var keep []Installation
		for _, inst := range st.Installations {
			if len(req.Names) > 0 && !slices.Contains(req.Names, inst.Name) {
				keep = append(keep, inst)
				continue
			}
			row, next, err := c.updateOne(ctx, gate, inst, req)
			res.Updates = append(res.Updates, row)
			if err != nil {
				failed = append(failed, fmt.Errorf("%s: %w", inst.Name, err))
			}
			if next == nil {
				changed = changed || row.Action == "removed"
				continue
			}
			changed = changed || next.Digest != inst.Digest
			keep = append(keep, *next)
		}
		st.Installations = keep
		return changed && !req.DryRun, nil
	})
	if err != nil {
		return res, err
	}
	return res, errors.Join(failed...)
}

// updateOne decides, and unless a dry run does, what happens to inst. It
// returns the installation to keep (nil to drop it).
func (c *Client) updateOne(ctx context.Context, gate trust.Gate, inst Installation, req UpdateRequest) (UpdateRow, *Installation, error) {
	row := UpdateRow{Name: inst.Name, From: inst.Version + " (" + promotion.ShortDigest(inst.Digest) + ")", Action: "unchanged"}
	fail := func(err error) (UpdateRow, *Installation, error) {
		row.Action, row.Why = "failed", err.Error()
		return row, &inst, err
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
	cand, err := c.resolveVersion(ctx, gate, repo, rng, want)
	if err == nil && cand.info.Digest == inst.Digest {
		// The newest version at the tier is the one installed: verified
		// just now, so not demoted. This is a check with nothing changed,
		// and it costs no second verification of the same digest.
		return row, &inst, nil
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
				return row, &inst, rerr
			}
		}
		return row, nil, nil
	}
	switch {
	case err != nil && demoted:
		row.Action, row.Why = "failed", now.Problem+"; and no version is left at "+want.String()+": "+err.Error()
		return row, &inst, fmt.Errorf("%w: %s", tier.ErrBelow, row.Why)
	case err != nil:
		row.Why = "no newer version: " + err.Error()
		return row, &inst, nil
	case demoted && req.OnDemotion == OnDemotionFail:
		row.Action, row.Why = "failed", now.Problem
		return row, &inst, fmt.Errorf("%w: %s", tier.ErrBelow, now.Problem)
	}
	next := inst
	next.Version, next.Digest, next.VerifiedTier = cand.version, cand.info.Digest, cand.verdict.Effective().String()
	next.Installed = time.Now().UTC().Truncate(time.Second)
	row.To = next.Version + " (" + promotion.ShortDigest(next.Digest) + ")"
	row.Action = "updated"
	if demoted {
		row.Action, row.Why = "rolled back", now.Problem
	}
	if req.DryRun {
		return row, &inst, nil
	}
	if _, err := c.Pull(ctx, PullRequest{Ref: next.Reference(), OutputDir: inst.Destination, MinTier: want, Force: true, KeyFiles: req.KeyFiles}); err != nil {
		row.Action, row.Why = "failed", err.Error()
		return row, &inst, err
	}
	return row, &next, nil
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
