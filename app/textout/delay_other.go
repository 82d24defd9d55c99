//go:build !linux

package textout

import "github.com/go-vgo/robotgo"

// setTypeDelay sets the pause after each typed character.
func setTypeDelay(ms int) { robotgo.KeySleep = ms }
