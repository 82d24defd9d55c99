// Command textwin is the end-to-end tests' target window: a real X11 client that takes
// input focus, turns key presses into text like a toolkit does (keysyms from the current
// keyboard map, Shift, Enter, BackSpace) and pastes the CLIPBOARD selection on Ctrl+V —
// or, with -terminal, only on Ctrl+Shift+V, as terminals do. It writes what it holds to
// -out after every change.
package main

import (
	"flag"
	"log"
	"os"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

func main() {
	out := flag.String("out", "", "file that mirrors the window's text")
	class := flag.String("class", "textwin", "WM_CLASS class name")
	terminal := flag.Bool("terminal", false, "paste with Ctrl+Shift+V only, like a terminal")
	flag.Parse()

	conn, err := xgb.NewConn()
	if err != nil {
		log.Fatal(err)
	}
	screen := xproto.Setup(conn).DefaultScreen(conn)
	win, _ := xproto.NewWindowId(conn)
	xproto.CreateWindow(conn, screen.RootDepth, win, screen.Root, 10, 10, 400, 200, 0,
		xproto.WindowClassInputOutput, screen.RootVisual, xproto.CwBackPixel|xproto.CwEventMask,
		[]uint32{screen.WhitePixel, xproto.EventMaskKeyPress | xproto.EventMaskStructureNotify | xproto.EventMaskPropertyChange})
	wmClass := "textwin\x00" + *class + "\x00"
	xproto.ChangeProperty(conn, xproto.PropModeReplace, win, xproto.AtomWmClass, xproto.AtomString, 8, uint32(len(wmClass)), []byte(wmClass))
	xproto.ChangeProperty(conn, xproto.PropModeReplace, win, xproto.AtomWmName, xproto.AtomString, 8, 7, []byte("textwin"))
	xproto.MapWindow(conn, win)
	atom := func(name string) xproto.Atom {
		r, err := xproto.InternAtom(conn, false, uint16(len(name)), name).Reply()
		if err != nil {
			log.Fatal(err)
		}
		return r.Atom
	}
	clipboard, utf8, target := atom("CLIPBOARD"), atom("UTF8_STRING"), atom("TEXTWIN_PASTE")

	var text []rune
	save := func() {
		tmp := *out + ".tmp"
		if err := os.WriteFile(tmp, []byte(string(text)), 0o644); err == nil {
			os.Rename(tmp, *out)
		}
	}
	save()
	for {
		ev, err := conn.WaitForEvent()
		if ev == nil && err == nil {
			return
		}
		switch e := ev.(type) {
		case xproto.MapNotifyEvent:
			xproto.SetInputFocus(conn, xproto.InputFocusPointerRoot, win, xproto.TimeCurrentTime)
			os.WriteFile(*out+".ready", nil, 0o644)
		case xproto.KeyPressEvent:
			m, err := xproto.GetKeyboardMapping(conn, e.Detail, 1).Reply()
			if err != nil || len(m.Keysyms) == 0 {
				continue
			}
			shift := e.State&xproto.ModMaskShift != 0
			ctrl := e.State&xproto.ModMaskControl != 0
			sym := m.Keysyms[0]
			if shift && len(m.Keysyms) > 1 && m.Keysyms[1] != 0 {
				sym = m.Keysyms[1]
			}
			if ctrl {
				if (sym == 'v' || sym == 'V') && shift == *terminal {
					xproto.ConvertSelection(conn, win, clipboard, utf8, target, e.Time)
				}
				continue
			}
			switch {
			case sym == 0xff0d:
				text = append(text, '\n')
			case sym == 0xff09:
				text = append(text, '\t')
			case sym == 0xff08:
				if len(text) > 0 {
					text = text[:len(text)-1]
				}
			case sym >= 0x20 && sym <= 0x7e, sym >= 0xa0 && sym <= 0xff:
				text = append(text, rune(sym))
			case sym&0xff000000 == 0x01000000:
				text = append(text, rune(sym&0xffffff))
			default:
				continue
			}
			save()
		case xproto.SelectionNotifyEvent:
			if e.Property == xproto.AtomNone {
				continue
			}
			p, err := xproto.GetProperty(conn, true, win, target, xproto.GetPropertyTypeAny, 0, 1<<20).Reply()
			if err == nil {
				text = append(text, []rune(string(p.Value))...)
				save()
			}
		}
	}
}
