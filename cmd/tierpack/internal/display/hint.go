package display

import (
	"errors"
	"fmt"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/cache"
	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/pkg/plugin/dist"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/pkg/trust"
	"github.com/tierpack/tierpack/sdk/tier"
)

// Hint says what to do about err in this command line's words — its flags
// and commands — for the library errors that name the problem and leave
// the remedy to the front end: a tier below the one asked for, a registry
// that wants credentials, TLS, plain HTTP, a CA or a client certificate.
// It returns the text to append to the error's message, separator
// included, or "" for any other error.
func Hint(err error) string {
	var (
		re   *trust.RefusedError
		be   *tier.BelowError
		cred *target.CredentialsRequiredError
		tls  *target.TLSRequiredError
		http *target.PlainHTTPRequiredError
		cert *target.CertificateError
		cc   *target.ClientCertError
		ex   *artifact.ExistsError
		cu   *cache.UnusableError
		up   *dist.UnpinnedError
		dmg  *target.DamagedError
	)
	const settings = "$TIERPACK_HOME/registries.yaml"
	switch {
	case errors.As(err, &re):
		if v := re.Verdict; v.Claimed < re.Want && !v.Demoted {
			return belowHint(v.Claimed, re.Want)
		}
		return fmt.Sprintf("\n  --tier %s takes a tier a trusted key verified: pass the key with --key, or see `tierpack verify --help`", re.Want)
	case errors.As(err, &be):
		return belowHint(be.Have, be.Want)
	case errors.As(err, &cred):
		return fmt.Sprintf(": log in with `tierpack login %s -u USER`, or give them to this command with -u USER --password-stdin", cred.Host)
	case errors.As(err, &tls):
		return fmt.Sprintf(": pass --ca-file CA.pem (or --insecure), or set it in registries.yaml (%s: `registries: {%q: {ca-file: CA.pem}}`)", settings, tls.Host)
	case errors.As(err, &http):
		return ": pass --plain-http, or set `plain-http: true` for it in " + settings
	case errors.As(err, &cert):
		return fmt.Sprintf(": pass --ca-file with the CA that signed it, or set ca-file for %s in %s (--insecure skips the check, for tests only)", cert.Host, settings)
	case errors.As(err, &cc):
		return fmt.Sprintf(": pass --cert-file and --key-file, or set cert-file and key-file for %s in %s", cc.Host, settings)
	case errors.As(err, &ex) && ex.File:
		return "; choose another with -o"
	case errors.As(err, &ex):
		return "; pass --force to replace it, or choose another folder with -o"
	case errors.As(err, &cu):
		return " (set TIERPACK_HOME, or pass --no-cache)"
	case errors.As(err, &dmg) && dmg.Local:
		return "; run `tierpack store check --repair` to rebuild its index from its blobs"
	case errors.As(err, &dmg):
		return "; run `tierpack store check --repair oci:" + dmg.Dir + "` to rebuild its index from its blobs"
	case errors.Is(err, tierpack.ErrDamaged):
		return "; `tierpack store check --repair` rebuilds its index"
	case errors.As(err, &up):
		return "; move it to $" + plugin.DirEnv + ", or pass --force to replace it"
	case errors.Is(err, sign.ErrNoTrustedKeys):
		return " (pass --key PUB, or put .pub files in the trusted-keys folder)"
	case errors.Is(err, sign.ErrNoSignature):
		return "; a maintainer signs it with `tierpack sign REF --key KEY`"
	}
	return ""
}

func belowHint(have, want tier.Tier) string {
	if have == tier.None {
		return fmt.Sprintf("\n  --tier %s refuses an untiered artifact: pull without --tier to accept it as untiered", want)
	}
	return fmt.Sprintf("\n  --tier %s: drop --tier, or ask a maintainer to promote it", want)
}
