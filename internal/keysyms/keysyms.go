// Package keysyms says which character an X11 keysym types. Layouts name most characters
// by legacy keysyms (Cyrillic_zhe, EuroSign, udiaeresis), not by the Unicode keysyms
// (0x1000000 + code point) a program would pick for the same character, so a search for a
// character's key compares characters, not keysym numbers.
package keysyms

//go:generate go run gen.go /usr/include/X11/keysymdef.h

// Rune returns the character sym types: the Unicode keysyms, the legacy ones listed with an
// exact code point in X.Org's keysymdef.h (Latin-1 included), Return as a line break and
// Tab as a tab.
func Rune(sym uint32) (rune, bool) {
	switch {
	case sym == 0xff0d || sym == 0xff8d: // Return, KP_Enter
		return '\n', true
	case sym == 0xff09 || sym == 0xff89: // Tab, KP_Tab
		return '\t', true
	case sym >= 0x1000100 && sym <= 0x110ffff:
		return rune(sym - 0x1000000), true
	}
	r, ok := legacy[sym]
	return r, ok
}

// Of returns the keysym a program names r by: Latin-1 as itself, a line break as Return,
// a tab as Tab, else the Unicode keysym.
func Of(r rune) uint32 {
	switch {
	case r == '\n':
		return 0xff0d
	case r == '\t':
		return 0xff09
	case r >= 0x20 && r <= 0x7e, r >= 0xa0 && r <= 0xff:
		return uint32(r)
	}
	return 0x01000000 | uint32(r)
}
