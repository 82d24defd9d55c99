package wayland

import (
	"fmt"
	"strings"
)

// firstKeycode is the XKB keycode of a generated keymap's first key (XKB keycodes start at
// 8; the protocol's key events carry evdev codes, which are 8 less).
const firstKeycode = 9

// maxKeysPerMap bounds the distinct characters of one keymap (keycodes 9–255 exist;
// some compositors and toolkits mishandle the highest ones).
const maxKeysPerMap = 200

// keysym names the XKB keysym that types r: Return and Tab for line breaks and tabs (which
// applications read as keys, not characters), else the Unicode keysym, which xkbcommon
// turns into exactly r whatever the layout.
func keysym(r rune) string {
	switch r {
	case '\n':
		return "Return"
	case '\t':
		return "Tab"
	case '\b':
		return "BackSpace"
	}
	return fmt.Sprintf("U%04X", r)
}

// keymapFor writes an XKB keymap whose keycodes 9, 10, … carry syms in order, and in
// which the keys named in mods (Control_L, Shift_L) are also those modifiers.
func keymapFor(syms []string) string {
	var b strings.Builder
	b.WriteString("xkb_keymap {\nxkb_keycodes \"dictate\" {\n\tminimum = 8;\n\tmaximum = 255;\n")
	for i := range syms {
		fmt.Fprintf(&b, "\t<K%d> = %d;\n", i, firstKeycode+i)
	}
	b.WriteString("};\nxkb_types \"dictate\" { include \"complete\" };\nxkb_compatibility \"dictate\" { include \"complete\" };\nxkb_symbols \"dictate\" {\n")
	for i, s := range syms {
		fmt.Fprintf(&b, "\tkey <K%d> { [ %s ] };\n", i, s)
		switch s {
		case "Control_L":
			fmt.Fprintf(&b, "\tmodifier_map Control { <K%d> };\n", i)
		case "Shift_L":
			fmt.Fprintf(&b, "\tmodifier_map Shift { <K%d> };\n", i)
		}
	}
	b.WriteString("};\n};\n")
	return b.String()
}

// chunks splits text into runs of at most maxKeysPerMap distinct characters, each with the
// keysyms its keymap carries and the index of each character's key.
func chunks(text string) []chunk {
	var out []chunk
	var cur chunk
	index := map[rune]int{}
	for _, r := range text {
		i, ok := index[r]
		if !ok {
			if len(cur.syms) == maxKeysPerMap {
				out = append(out, cur)
				cur, index = chunk{}, map[rune]int{}
			}
			i = len(cur.syms)
			index[r] = i
			cur.syms = append(cur.syms, keysym(r))
		}
		cur.keys = append(cur.keys, i)
	}
	if len(cur.keys) > 0 {
		out = append(out, cur)
	}
	return out
}

type chunk struct {
	syms []string // keysym of each key, from keycode 9 up
	keys []int    // the keys to press, in order
}
