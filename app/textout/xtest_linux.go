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
)

// xtestKeyboard types on X11 through XTest. Each insertion reads the keyboard map and the
// active layout group afresh, so a layout switched while Dictate runs types right (a map
// read once, as robotgo keeps it, typed "yz" for "zy" and Cyrillic for Latin after a
// switch, measured by TestLayoutX11). A character on the group's first two levels is
// typed with its key (and Shift); any other (AltGr levels, other scripts, emoji) goes
// through a spare keycode mapped to its keysym in every group and level. Those mappings
// are kept for later insertions and undone on Close: undoing one right after its key, as
// xdotool does, loses the character in a client that reads the map late.
type xtestKeyboard struct {
	mu      sync.Mutex
	conn    *xgb.Conn
	root    xproto.Window
	min     xproto.Keycode
	per     int
	syms    []xproto.Keysym
	spare   map[xproto.Keysym]xproto.Keycode // keysyms this keyboard mapped onto spare keys
	used    map[xproto.Keycode]time.Time     // when each spare key was last pressed
	xkbCode byte                             // the XKEYBOARD extension's major opcode, 0 without it
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
		spare: map[xproto.Keysym]xproto.Keycode{}, used: map[xproto.Keycode]time.Time{}}
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
	for sym, kc := range k.spare {
		if i := int(kc-k.min) * k.per; i >= len(k.syms) || k.syms[i] != sym {
			delete(k.spare, sym)
		}
	}
	return nil
}

// x11Keysym is the keysym that types r: Latin-1 as itself, else the Unicode keysym.
func x11Keysym(r rune) xproto.Keysym {
	switch {
	case r == '\n':
		return 0xff0d // Return
	case r == '\t':
		return 0xff09 // Tab
	case r >= 0x20 && r <= 0x7e, r >= 0xa0 && r <= 0xff:
		return xproto.Keysym(r)
	}
	return xproto.Keysym(0x01000000 | r)
}

// find returns the key that types sym in group (its first two levels), and whether it
// needs Shift. The core map lists group 1 levels 1–2, then group 2 levels 1–2, first.
func (k *xtestKeyboard) find(sym xproto.Keysym, group int) (xproto.Keycode, bool, bool) {
	col := 2 * group
	if group > 1 || col+1 >= k.per {
		return 0, false, false
	}
	for i := 0; (i+1)*k.per <= len(k.syms); i++ {
		row := k.syms[i*k.per : (i+1)*k.per]
		switch sym {
		case row[col]:
			return k.min + xproto.Keycode(i), false, true
		case row[col+1]:
			return k.min + xproto.Keycode(i), true, true
		}
	}
	return 0, false, false
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
// types nothing (measured on Xvfb with Xlib: the first press of a fresh key was lost).
const (
	reuseAfter = 50 * time.Millisecond
	settle     = 50 * time.Millisecond
)

// mapSpare gives each keysym of syms a key of its own, in every group and level: keys this
// keyboard mapped before are kept, empty keys are taken next (from the top: the keys real
// keyboards lack), then keys this keyboard mapped for keysyms not in syms, oldest first.
// It maps what it can and returns the keysyms left over.
func (k *xtestKeyboard) mapSpare(syms []xproto.Keysym) ([]xproto.Keysym, error) {
	need := map[xproto.Keysym]bool{}
	for _, s := range syms {
		need[s] = true
	}
	var free []xproto.Keycode
	mine := map[xproto.Keycode]xproto.Keysym{}
	for s, kc := range k.spare {
		mine[kc] = s
	}
	for i := len(k.syms)/k.per - 1; i >= 0; i-- {
		kc := k.min + xproto.Keycode(i)
		if _, taken := mine[kc]; !taken && empty(k.syms[i*k.per:(i+1)*k.per]) {
			free = append(free, kc)
		}
	}
	var reusable []xproto.Keycode
	for kc, s := range mine {
		if !need[s] {
			reusable = append(reusable, kc)
		}
	}
	slices.SortFunc(reusable, func(a, b xproto.Keycode) int { return k.used[a].Compare(k.used[b]) })
	free = append(free, reusable...)
	var left []xproto.Keysym
	type assignment struct {
		sym xproto.Keysym
		kc  xproto.Keycode
	}
	var plan []assignment
	var wait time.Duration
	var cleared []xproto.Keycode
	for _, sym := range syms {
		if _, ok := k.spare[sym]; ok {
			continue
		}
		if len(free) == 0 {
			left = append(left, sym)
			continue
		}
		kc := free[0]
		free = free[1:]
		if old, ok := mine[kc]; ok {
			delete(k.spare, old)
			wait = max(wait, time.Until(k.used[kc].Add(reuseAfter)))
			cleared = append(cleared, kc)
		}
		plan = append(plan, assignment{sym, kc})
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
	mapped := false
	for _, a := range plan {
		row := make([]xproto.Keysym, k.per)
		for j := range row {
			row[j] = a.sym
		}
		if err := xproto.ChangeKeyboardMappingChecked(k.conn, 1, a.kc, byte(k.per), row).Check(); err != nil {
			return nil, err
		}
		k.spare[a.sym] = a.kc
		copy(k.syms[int(a.kc-k.min)*k.per:], row)
		mapped = true
	}
	if mapped {
		time.Sleep(settle)
	}
	return left, nil
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
		var missing []xproto.Keysym
		for _, r := range runes {
			sym := x11Keysym(r)
			if _, _, ok := k.find(sym, group); !ok && !slices.Contains(missing, sym) {
				missing = append(missing, sym)
			}
		}
		left, err := k.mapSpare(missing)
		if err != nil {
			return err
		}
		if len(left) == len(missing) && len(missing) > 0 {
			return errors.New("this keyboard map has no key to spare for another character")
		}
		n := 0
		for ; n < len(runes); n++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			sym := x11Keysym(runes[n])
			kc, shifted, ok := k.find(sym, group)
			if !ok {
				if kc, ok = k.spare[sym]; !ok {
					break // its key comes with the next round
				}
				k.used[kc] = time.Now()
			}
			if shifted {
				k.send(shift, true)
			}
			k.send(kc, true)
			k.send(kc, false)
			if shifted {
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
		for _, kc := range k.spare {
			xproto.ChangeKeyboardMapping(k.conn, 1, kc, byte(k.per), make([]xproto.Keysym, k.per))
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
