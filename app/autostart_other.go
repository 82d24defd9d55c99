//go:build !linux

package app

import "errors"

// SetLaunchAtLogin is not implemented here yet (macOS login items, the Windows Run key).
func SetLaunchAtLogin(enable bool) error {
	if !enable {
		return nil
	}
	return errors.ErrUnsupported
}
