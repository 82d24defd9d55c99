//go:build !linux

package textout

import (
	"context"
	"strings"

	"github.com/go-vgo/robotgo"
)

// systemKeyboard types through robotgo: the system's own APIs on macOS and Windows.
type systemKeyboard struct{}

func newSystemKeyboard(delayMS int) systemKeyboard {
	robotgo.KeySleep = delayMS // the pause after each typed character
	return systemKeyboard{}
}

// Type sends keystrokes; line breaks and tabs are sent as the Enter and Tab keys.
func (systemKeyboard) Type(ctx context.Context, text string) error {
	for n, line := range strings.Split(text, "\n") {
		if n > 0 {
			if err := robotgo.KeyTap("enter"); err != nil {
				return err
			}
		}
		for k, part := range strings.Split(line, "\t") {
			if k > 0 {
				if err := robotgo.KeyTap("tab"); err != nil {
					return err
				}
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if part != "" {
				robotgo.TypeStr(part)
			}
		}
	}
	return nil
}

// robotgoNames are robotgo's names for the keysyms chords use.
var robotgoNames = map[string]string{"Control_L": "ctrl", "Shift_L": "shift", "Super_L": "cmd", "Insert": "insert"}

func (systemKeyboard) Chord(ctx context.Context, key string, mods ...string) error {
	var args []any
	for _, m := range mods {
		args = append(args, robotgoNames[m])
	}
	if name, ok := robotgoNames[key]; ok {
		key = name
	}
	return robotgo.KeyTap(key, args...)
}

func (systemKeyboard) Close() error { return nil }
