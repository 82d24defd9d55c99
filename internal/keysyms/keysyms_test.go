package keysyms

import "testing"

func TestRune(t *testing.T) {
	for _, c := range []struct {
		sym  uint32
		want rune
		ok   bool
	}{
		{'a', 'a', true},
		{0xfc, 'ü', true},            // udiaeresis
		{0x6d6, 'ж', true},           // Cyrillic_zhe
		{0x20ac, '€', true},          // EuroSign
		{0x7e1, 'α', true},           // Greek_alpha
		{0xff0d, '\n', true},         // Return
		{0xff09, '\t', true},         // Tab
		{0x101f642, '🙂', true},       // a Unicode keysym
		{0x1000436, 'ж', true},       // the same letter as a Unicode keysym
		{0xfe03, 0, false},           // ISO_Level3_Shift types nothing
		{0xffe1, 0, false},           // Shift_L
		{0xffb1, 0, false},           // KP_1: keysymdef gives it only as close to '1'
		{0x1000000 | 0x0d, 0, false}, // below the Unicode keysym range
	} {
		if got, ok := Rune(c.sym); got != c.want || ok != c.ok {
			t.Errorf("Rune(%#x) = %q %v, want %q %v", c.sym, got, ok, c.want, c.ok)
		}
	}
}

func TestOfTypesTheCharacter(t *testing.T) {
	for _, r := range "aZ é€ж🙂ü\n\t" {
		if got, ok := Rune(Of(r)); !ok || got != r {
			t.Errorf("Rune(Of(%q)) = %q %v", r, got, ok)
		}
	}
}
