package textout

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"

	"github.com/dictate-app/dictate/internal/keysyms"
)

// xtestKeyboard types on X11 through XTest. Each insertion reads the keyboard map and the
// active layout group afresh, so a layout switched while Dictate runs types right (a map
// read once, as robotgo keeps it, typed "yz" for "zy" and Cyrillic for Latin after a
// switch, measured by TestLayoutX11). A character on the group's first two levels is
// typed with its key (and Shift); keys are matched by the character they type, since
// layouts name most letters by legacy keysyms (Cyrillic_zhe, not U+0436). Any other
// character (AltGr levels, other scripts, emoji) goes through a spare keycode, two to a
// key (the second with Shift), in every group. Those mappings are kept for later
// insertions and undone on Close: undoing one right after its key, as xdotool does, loses
// the character in a client that reads the map late.
type xtestKeyboard struct {
	mu      sync.Mutex
	conn    *xgb.Conn
	root    xproto.Window
	min     xproto.Keycode
	per     int
	syms    []xproto.Keysym
	spare   map[rune]keyPress            // characters this keyboard mapped onto spare keys
	used    map[xproto.Keycode]time.Time // when each spare key was last pressed
	xkbCode byte                         // the XKEYBOARD extension's major opcode, 0 without it
}

func newXTestKeyboard() (*xtestKeyboard, error) {
	conn, err := xgb.NewConn()
	if err != nil {
		return nil, fmt.Errorf("cannot reach the X server: %w", err)
	}
	if err := xtest.Init(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("the X server has no XTEST extension: %w", err)
	}
	k := &xtestKeyboard{conn: conn, root: xproto.Setup(conn).DefaultScreen(conn).Root,
		spare: map[rune]keyPress{}, used: map[xproto.Keycode]time.Time{}}
	k.xkbCode = xkbUseExtension(conn)
	return k, nil
}

// refresh reads the keyboard map (k.mu held).
func (k *xtestKeyboard) refresh() error {
	setup := xproto.Setup(k.conn)
	m, err := xproto.GetKeyboardMapping(k.conn, setup.MinKeycode, byte(setup.MaxKeycode-setup.MinKeycode+1)).Reply()
	if err != nil {
		return err
	}
	k.min, k.per, k.syms = setup.MinKeycode, int(m.KeysymsPerKeycode), m.Keysyms
	// A new layout (setxkbmap, a switch in the desktop) replaces the whole map, the keys
	// mapped here included.
	for r, key := range k.spare {
		i := int(key.kc-k.min) * k.per
		if key.shifted {
			i++
		}
		if i >= len(k.syms) {
			delete(k.spare, r)
			continue
		}
		if got, ok := keysyms.Rune(uint32(k.syms[i])); !ok || got != r {
			delete(k.spare, r)
		}
	}
	return nil
}

// keyPress is the key that types a character, with Shift or without.
type keyPress struct {
	kc      xproto.Keycode
	shifted bool
}

// layoutKeys maps each character the group's first two levels type to its key (the first
// key, unshifted first). The core map lists group 1 levels 1–2, then group 2 levels 1–2.
func (k *xtestKeyboard) layoutKeys(group int) map[rune]keyPress {
	keys := map[rune]keyPress{}
	col := 2 * group
	if group > 1 || col+1 >= k.per {
		return keys
	}
	for level := range 2 {
		for i := 0; (i+1)*k.per <= len(k.syms); i++ {
			r, ok := keysyms.Rune(uint32(k.syms[i*k.per+col+level]))
			if _, seen := keys[r]; ok && !seen {
				keys[r] = keyPress{kc: k.min + xproto.Keycode(i), shifted: level == 1}
			}
		}
	}
	return keys
}

// findAnywhere returns a key that carries sym in any group or level (for shortcuts: Ctrl
// with the key where V is, on a Cyrillic layout too).
func (k *xtestKeyboard) findAnywhere(sym xproto.Keysym) (xproto.Keycode, bool) {
	for i, s := range k.syms {
		if s == sym {
			return k.min + xproto.Keycode(i/k.per), true
		}
	}
	return 0, false
}

// reuseAfter is how long a spare key keeps its character after its press before it may be
// remapped, and settle how long a new mapping is left before its key is pressed: a client
// reads a changed map when it handles the change's event, and a key pressed before that
// types nothing (measured on Xvfb with Xlib: the first press of a fresh key was lost after
// 30 ms, and once after 50 ms with the machine's two cores busy with other tests). A
// client that is behind reads the map when it reaches the press, so a key remapped before
// then types the new character or nothing: with 150 ms the busy test window lost a 'u'
// whose key went to another letter. Reuse happens only when one insertion needs more
// characters than there are spare keys (15 on Xvfb's evdev map), so it may wait longer.
const (
	reuseAfter = 500 * time.Millisecond
	settle     = 150 * time.Millisecond
)

// mapSpare gives each character of chars a spare key, two to a key: characters this
// keyboard mapped before keep theirs, empty keys are taken next (from the top: the keys
// real keyboards lack), then keys this keyboard mapped for characters not in chars, oldest
// first. It maps what it can and returns the characters left over.
func (k *xtestKeyboard) mapSpare(chars []rune) ([]rune, error) {
	need := map[rune]bool{}
	for _, r := range chars {
		need[r] = true
	}
	mine := map[xproto.Keycode][]rune{}
	for r, key := range k.spare {
		mine[key.kc] = append(mine[key.kc], r)
	}
	var free []xproto.Keycode
	for i := len(k.syms)/k.per - 1; i >= 0; i-- {
		kc := k.min + xproto.Keycode(i)
		if _, taken := mine[kc]; !taken && empty(k.syms[i*k.per:(i+1)*k.per]) {
			free = append(free, kc)
		}
	}
	var reusable []xproto.Keycode
	for kc, rs := range mine {
		if !slices.ContainsFunc(rs, func(r rune) bool { return need[r] }) {
			reusable = append(reusable, kc)
		}
	}
	slices.SortFunc(reusable, func(a, b xproto.Keycode) int { return k.used[a].Compare(k.used[b]) })
	var todo []rune
	for _, r := range chars {
		if _, ok := k.spare[r]; !ok {
			todo = append(todo, r)
		}
	}
	type assignment struct {
		kc    xproto.Keycode
		chars []rune // one or two: the second on the Shift level
	}
	var plan []assignment
	var wait time.Duration
	var cleared []xproto.Keycode
	for len(todo) > 0 && len(free)+len(reusable) > 0 {
		var kc xproto.Keycode
		if len(free) > 0 {
			kc, free = free[0], free[1:]
		} else {
			kc, reusable = reusable[0], reusable[1:]
			for _, old := range mine[kc] {
				delete(k.spare, old)
			}
			wait = max(wait, time.Until(k.used[kc].Add(reuseAfter)))
			cleared = append(cleared, kc)
		}
		n := min(2, len(todo))
		plan = append(plan, assignment{kc, todo[:n]})
		todo = todo[n:]
	}
	// A key that changes from one character straight to another keeps the first in the
	// client's eyes (measured: Xlib with XKB read the old keysym); emptied first, it reads
	// the new one.
	if len(cleared) > 0 {
		time.Sleep(wait)
		for _, kc := range cleared {
			if err := xproto.ChangeKeyboardMappingChecked(k.conn, 1, kc, byte(k.per), make([]xproto.Keysym, k.per)).Check(); err != nil {
				return nil, err
			}
		}
		if err := k.sync(); err != nil {
			return nil, err
		}
		time.Sleep(settle)
	}
	for _, a := range plan {
		// Every group gets the pair, so the key types it whichever group is active.
		lo, hi := xproto.Keysym(keysyms.Of(a.chars[0])), xproto.Keysym(keysyms.Of(a.chars[len(a.chars)-1]))
		row := make([]xproto.Keysym, k.per)
		for j := range row {
			row[j] = lo
			if j%2 == 1 {
				row[j] = hi
			}
		}
		if err := xproto.ChangeKeyboardMappingChecked(k.conn, 1, a.kc, byte(k.per), row).Check(); err != nil {
			return nil, err
		}
		for level, r := range a.chars {
			k.spare[r] = keyPress{kc: a.kc, shifted: level == 1}
		}
		copy(k.syms[int(a.kc-k.min)*k.per:], row)
	}
	if len(plan) > 0 {
		if err := k.sync(); err != nil {
			return nil, err
		}
		time.Sleep(settle)
	}
	return todo, nil
}

func empty(row []xproto.Keysym) bool {
	for _, s := range row {
		if s != 0 {
			return false
		}
	}
	return true
}

func (k *xtestKeyboard) send(kc xproto.Keycode, press bool) {
	t := byte(xproto.KeyRelease)
	if press {
		t = xproto.KeyPress
	}
	xtest.FakeInput(k.conn, t, byte(kc), 0, k.root, 0, 0, 0)
}

func (k *xtestKeyboard) modifier(sym xproto.Keysym) (xproto.Keycode, error) {
	kc, ok := k.findAnywhere(sym)
	if !ok {
		return 0, fmt.Errorf("the keyboard map has no key for modifier %#x", sym)
	}
	return kc, nil
}

func (k *xtestKeyboard) Type(ctx context.Context, text string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.refresh(); err != nil {
		return err
	}
	group := k.group()
	shift, err := k.modifier(0xffe1) // Shift_L
	if err != nil {
		return err
	}
	runes := []rune(text)
	for len(runes) > 0 {
		// The characters the layout lacks get spare keys, as many at a time as there are
		// keys to spare; the text is typed up to the first that found none.
		keys := k.layoutKeys(group)
		var missing []rune
		for _, r := range runes {
			if _, ok := keys[r]; !ok && !slices.Contains(missing, r) {
				missing = append(missing, r)
			}
		}
		left, err := k.mapSpare(missing)
		if err != nil {
			return err
		}
		if len(left) == len(missing) && len(missing) > 0 {
			return errors.New("this keyboard map has no key to spare for another character")
		}
		keys = k.layoutKeys(group)
		n := 0
		for ; n < len(runes); n++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			key, ok := keys[runes[n]]
			if !ok {
				break // its key comes with the next round
			}
			if _, spare := k.spare[runes[n]]; spare {
				k.used[key.kc] = time.Now()
			}
			if key.shifted {
				k.send(shift, true)
			}
			k.send(key.kc, true)
			k.send(key.kc, false)
			if key.shifted {
				k.send(shift, false)
			}
		}
		runes = runes[n:]
		if err := k.sync(); err != nil {
			return err
		}
	}
	return nil
}

// keysymValues are the keysyms of the names chords use.
var keysymValues = map[string]xproto.Keysym{"Control_L": 0xffe3, "Shift_L": 0xffe1, "Super_L": 0xffeb, "v": 'v', "Insert": 0xff63}

func (k *xtestKeyboard) Chord(ctx context.Context, key string, mods ...string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.refresh(); err != nil {
		return err
	}
	var codes []xproto.Keycode
	for _, name := range append(append([]string(nil), mods...), key) {
		kc, err := k.modifier(keysymValues[name])
		if err != nil {
			return err
		}
		codes = append(codes, kc)
	}
	for _, kc := range codes {
		k.send(kc, true)
	}
	for i := len(codes) - 1; i >= 0; i-- {
		k.send(codes[i], false)
	}
	return k.sync()
}

// sync waits until the server has handled every request (and so every key).
func (k *xtestKeyboard) sync() error {
	_, err := xproto.GetInputFocus(k.conn).Reply()
	return err
}

// Close gives the spare keys back their emptiness and ends the connection.
func (k *xtestKeyboard) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.spare) > 0 {
		time.Sleep(100 * time.Millisecond) // clients read the map of the last keys first
		for _, key := range k.spare {
			xproto.ChangeKeyboardMapping(k.conn, 1, key.kc, byte(k.per), make([]xproto.Keysym, k.per))
		}
		k.sync()
	}
	k.conn.Close()
	return nil
}

// group is the XKB layout group in effect (the second of "us,ru" is 1), 0 without XKB.
func (k *xtestKeyboard) group() int {
	if k.xkbCode == 0 {
		return 0
	}
	// XkbGetState (minor 4) for the core keyboard (device 0x100); its reply's group is
	// byte 12. xgb has no XKEYBOARD binding, and this is one fixed-size request.
	req := make([]byte, 8)
	req[0], req[1] = k.xkbCode, 4
	binary.LittleEndian.PutUint16(req[2:], 2)
	binary.LittleEndian.PutUint16(req[4:], 0x100)
	cookie := k.conn.NewCookie(true, true)
	k.conn.NewRequest(req, cookie)
	reply, err := cookie.Reply()
	if err != nil || len(reply) < 13 {
		return 0
	}
	return int(reply[12])
}

// xkbUseExtension turns XKEYBOARD on for conn (needed before any of its requests) and
// returns its major opcode, or 0 where the server lacks it.
func xkbUseExtension(conn *xgb.Conn) byte {
	ext, err := xproto.QueryExtension(conn, uint16(len("XKEYBOARD")), "XKEYBOARD").Reply()
	if err != nil || !ext.Present {
		return 0
	}
	req := make([]byte, 8) // XkbUseExtension (minor 0): wanted version 1.0
	req[0], req[1] = ext.MajorOpcode, 0
	binary.LittleEndian.PutUint16(req[2:], 2)
	binary.LittleEndian.PutUint16(req[4:], 1)
	binary.LittleEndian.PutUint16(req[6:], 0)
	cookie := conn.NewCookie(true, true)
	conn.NewRequest(req, cookie)
	if _, err := cookie.Reply(); err != nil {
		return 0
	}
	return ext.MajorOpcode
}
