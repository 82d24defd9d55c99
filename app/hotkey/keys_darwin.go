package hotkey

import (
	"fmt"

	"golang.design/x/hotkey"
)

func systemKey(s Spec) ([]hotkey.Modifier, hotkey.Key, error) {
	var mods []hotkey.Modifier
	if s.Mods&Ctrl != 0 {
		mods = append(mods, hotkey.ModCtrl)
	}
	if s.Mods&Shift != 0 {
		mods = append(mods, hotkey.ModShift)
	}
	if s.Mods&Alt != 0 {
		mods = append(mods, hotkey.ModOption)
	}
	if s.Mods&Super != 0 {
		mods = append(mods, hotkey.ModCmd)
	}
	k, ok := commonKeys[s.Key]
	if !ok {
		return nil, 0, fmt.Errorf("%s cannot be a hotkey on macOS; use a letter, digit, F-key or Space with modifiers", s)
	}
	return mods, k, nil
}
