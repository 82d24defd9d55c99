package testenv

import (
	"testing"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"
)

// Keyboard presses keys through XTest like a physical keyboard: each keysym goes to the
// key that produces it without modifiers (xdotool instead may pick a level that needs Alt,
// as it does for F-keys).
type Keyboard struct {
	conn *xgb.Conn
	root xproto.Window
	syms map[xproto.Keysym]xproto.Keycode
}

var keysymNames = map[string]xproto.Keysym{
	"Control_L": 0xffe3, "Control_R": 0xffe4, "Shift_L": 0xffe1, "Shift_R": 0xffe2, "Alt_L": 0xffe9,
	"Alt_R": 0xffea, "Super_L": 0xffeb, "space": 0x20, "Return": 0xff0d,
}

// NewKeyboard connects to DISPLAY (start it with X first).
func NewKeyboard(t testing.TB) *Keyboard {
	t.Helper()
	conn, err := xgb.NewConn()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if err := xtest.Init(conn); err != nil {
		t.Fatal(err)
	}
	setup := xproto.Setup(conn)
	count := byte(setup.MaxKeycode - setup.MinKeycode + 1)
	m, err := xproto.GetKeyboardMapping(conn, setup.MinKeycode, count).Reply()
	if err != nil {
		t.Fatal(err)
	}
	k := &Keyboard{conn: conn, root: setup.DefaultScreen(conn).Root, syms: map[xproto.Keysym]xproto.Keycode{}}
	per := int(m.KeysymsPerKeycode)
	for i := 0; i < int(count); i++ {
		sym := m.Keysyms[i*per]
		if _, seen := k.syms[sym]; !seen && sym != 0 {
			k.syms[sym] = xproto.Keycode(int(setup.MinKeycode) + i)
		}
	}
	return k
}

func (k *Keyboard) code(t testing.TB, name string) xproto.Keycode {
	t.Helper()
	sym, ok := keysymNames[name]
	switch {
	case ok:
	case len(name) == 1:
		sym = xproto.Keysym(name[0])
	case len(name) >= 2 && name[0] == 'F':
		n := 0
		for _, c := range name[1:] {
			n = n*10 + int(c-'0')
		}
		sym = xproto.Keysym(0xffbe + n - 1)
	default:
		t.Fatalf("no keysym for %q", name)
	}
	c, ok := k.syms[sym]
	if !ok {
		t.Fatalf("no key produces %q", name)
	}
	return c
}

func (k *Keyboard) send(t testing.TB, press bool, names []string) {
	t.Helper()
	typ := byte(xproto.KeyRelease)
	if press {
		typ = xproto.KeyPress
	}
	for _, n := range names {
		if err := xtest.FakeInputChecked(k.conn, typ, byte(k.code(t, n)), 0, k.root, 0, 0, 0).Check(); err != nil {
			t.Fatal(err)
		}
	}
	xproto.GetInputFocus(k.conn).Reply() // a round trip: the server has processed the events
}

// Down presses the keys in order (modifiers first), Up releases them in reverse order.
func (k *Keyboard) Down(t testing.TB, names ...string) { k.send(t, true, names) }

// Up releases the keys, last first.
func (k *Keyboard) Up(t testing.TB, names ...string) {
	rev := make([]string, len(names))
	for i, n := range names {
		rev[len(names)-1-i] = n
	}
	k.send(t, false, rev)
}

// Tap presses and releases the keys.
func (k *Keyboard) Tap(t testing.TB, names ...string) {
	k.Down(t, names...)
	k.Up(t, names...)
}
