//go:build !linux

package prompt

import "errors"

// noEcho is not implemented here: Password falls back to term.ReadPassword,
// which turns echo off once it starts reading.
func noEcho(int) (func(), error) { return nil, errors.ErrUnsupported }
