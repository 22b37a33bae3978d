package display

import (
	"errors"
	"fmt"

	"github.com/tierpack/tierpack/pkg/trust"
	"github.com/tierpack/tierpack/sdk/tier"
)

// Hint says what to do about err in this command line's words — its flags
// and commands — for the library errors that name the problem and leave
// the remedy to the front end (a tier below the one asked for). It returns
// "" for any other error.
func Hint(err error) string {
	var re *trust.RefusedError
	var be *tier.BelowError
	switch {
	case errors.As(err, &re):
		if v := re.Verdict; v.Claimed < re.Want && !v.Demoted {
			return belowHint(v.Claimed, re.Want)
		}
		return fmt.Sprintf("--tier %s takes a tier a trusted key verified: pass the key with --key, or see `tierpack verify --help`", re.Want)
	case errors.As(err, &be):
		return belowHint(be.Have, be.Want)
	}
	return ""
}

func belowHint(have, want tier.Tier) string {
	if have == tier.None {
		return fmt.Sprintf("--tier %s refuses an untiered artifact: pull without --tier to accept it as untiered", want)
	}
	return fmt.Sprintf("--tier %s: drop --tier, or ask a maintainer to promote it", want)
}
