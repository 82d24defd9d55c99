package textout

import (
	"strings"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// FocusedWindowClasses returns the WM_CLASS names (instance and class) of the X11 window
// with input focus, walking up to the top-level window that carries them.
func FocusedWindowClasses() []string {
	conn, err := xgb.NewConn()
	if err != nil {
		return nil
	}
	defer conn.Close()
	focus, err := xproto.GetInputFocus(conn).Reply()
	if err != nil {
		return nil
	}
	wmClass, err := xproto.InternAtom(conn, true, uint16(len("WM_CLASS")), "WM_CLASS").Reply()
	if err != nil {
		return nil
	}
	w := focus.Focus
	for i := 0; i < 16 && w > 1; i++ {
		prop, err := xproto.GetProperty(conn, false, w, wmClass.Atom, xproto.AtomString, 0, 256).Reply()
		if err == nil && prop.ValueLen > 0 {
			return strings.Split(strings.TrimRight(string(prop.Value), "\x00"), "\x00")
		}
		tree, err := xproto.QueryTree(conn, w).Reply()
		if err != nil || tree.Parent == tree.Root {
			break
		}
		w = tree.Parent
	}
	return nil
}
