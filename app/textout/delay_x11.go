//go:build linux && x11

package textout

import x11 "github.com/go-vgo/robotgo/x11"

// setTypeDelay sets the pause after each typed character. robotgo's pure-Go X11 backend
// keeps its own copy of the setting.
func setTypeDelay(ms int) { x11.KeySleep = ms }
