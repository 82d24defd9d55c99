//go:build darwin || windows

package hotkey

import (
	"fmt"

	"golang.design/x/hotkey"
)

func systemKey(s Spec) ([]hotkey.Modifier, hotkey.Key, error) {
	var mods []hotkey.Modifier
	for _, m := range []struct {
		bit Modifiers
		mod hotkey.Modifier
	}{{Ctrl, hotkey.ModCtrl}, {Shift, hotkey.ModShift}, {Alt, altMod}, {Super, superMod}} {
		if s.Mods&m.bit != 0 {
			mods = append(mods, m.mod)
		}
	}
	k, ok := commonKeys[s.Key]
	if !ok {
		return nil, 0, fmt.Errorf("%s cannot be a hotkey on %s; use a letter, digit, F-key or Space with modifiers", s, platformName)
	}
	return mods, k, nil
}

var commonKeys = map[string]hotkey.Key{
	"space": hotkey.KeySpace, "enter": hotkey.KeyReturn, "tab": hotkey.KeyTab, "escape": hotkey.KeyEscape,
	"delete": hotkey.KeyDelete, "left": hotkey.KeyLeft, "right": hotkey.KeyRight, "up": hotkey.KeyUp, "down": hotkey.KeyDown,
	"a": hotkey.KeyA, "b": hotkey.KeyB, "c": hotkey.KeyC, "d": hotkey.KeyD, "e": hotkey.KeyE, "f": hotkey.KeyF,
	"g": hotkey.KeyG, "h": hotkey.KeyH, "i": hotkey.KeyI, "j": hotkey.KeyJ, "k": hotkey.KeyK, "l": hotkey.KeyL,
	"m": hotkey.KeyM, "n": hotkey.KeyN, "o": hotkey.KeyO, "p": hotkey.KeyP, "q": hotkey.KeyQ, "r": hotkey.KeyR,
	"s": hotkey.KeyS, "t": hotkey.KeyT, "u": hotkey.KeyU, "v": hotkey.KeyV, "w": hotkey.KeyW, "x": hotkey.KeyX,
	"y": hotkey.KeyY, "z": hotkey.KeyZ,
	"0": hotkey.Key0, "1": hotkey.Key1, "2": hotkey.Key2, "3": hotkey.Key3, "4": hotkey.Key4,
	"5": hotkey.Key5, "6": hotkey.Key6, "7": hotkey.Key7, "8": hotkey.Key8, "9": hotkey.Key9,
	"f1": hotkey.KeyF1, "f2": hotkey.KeyF2, "f3": hotkey.KeyF3, "f4": hotkey.KeyF4, "f5": hotkey.KeyF5,
	"f6": hotkey.KeyF6, "f7": hotkey.KeyF7, "f8": hotkey.KeyF8, "f9": hotkey.KeyF9, "f10": hotkey.KeyF10,
	"f11": hotkey.KeyF11, "f12": hotkey.KeyF12, "f13": hotkey.KeyF13, "f14": hotkey.KeyF14, "f15": hotkey.KeyF15,
	"f16": hotkey.KeyF16, "f17": hotkey.KeyF17, "f18": hotkey.KeyF18, "f19": hotkey.KeyF19, "f20": hotkey.KeyF20,
}
