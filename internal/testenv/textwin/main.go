//go:build linux

// Command textwin is the end-to-end tests' target window: a real X11 client that takes
// input focus and turns key presses into text as toolkits do, through Xlib with XKB
// (XLookupString: the active layout's groups and levels, Shift, AltGr) and xkbcommon's
// keysym-to-Unicode table (legacy keysyms such as Cyrillic_zhe or EuroSign included). It
// pastes the CLIPBOARD selection on Ctrl+V — or, with -terminal, only on Ctrl+Shift+V, as
// terminals do — and writes what it holds to -out after every change.
package main

/*
#cgo pkg-config: x11 xkbcommon
#include <stdlib.h>
#include <string.h>
#include <X11/Xlib.h>
#include <X11/Xatom.h>
#include <X11/Xutil.h>
#include <xkbcommon/xkbcommon.h>

typedef struct {
	int kind;      // 0 none, 1 text, 2 paste request, 3 pasted text, 4 mapped
	unsigned int codepoint;
	unsigned long keysym;
	unsigned int keycode;
	char *data;    // kind 3: the pasted bytes (malloc'd)
	int len;
} tw_event;

static Display *dpy;
static Window win;
static Atom clipboard_atom, utf8_atom, target_atom;

static int tw_open(const char *instance, const char *class) {
	dpy = XOpenDisplay(NULL);
	if (!dpy) return -1;
	int screen = DefaultScreen(dpy);
	win = XCreateSimpleWindow(dpy, RootWindow(dpy, screen), 10, 10, 400, 200, 0,
		BlackPixel(dpy, screen), WhitePixel(dpy, screen));
	XSelectInput(dpy, win, KeyPressMask | StructureNotifyMask | PropertyChangeMask);
	XClassHint hint = { (char *)instance, (char *)class };
	XSetClassHint(dpy, win, &hint);
	XStoreName(dpy, win, "textwin");
	clipboard_atom = XInternAtom(dpy, "CLIPBOARD", False);
	utf8_atom = XInternAtom(dpy, "UTF8_STRING", False);
	target_atom = XInternAtom(dpy, "TEXTWIN_PASTE", False);
	XMapWindow(dpy, win);
	XFlush(dpy);
	return 0;
}

// tw_next waits for the next event that matters and describes it.
static tw_event tw_next(int terminal) {
	tw_event out = {0};
	XEvent ev;
	XNextEvent(dpy, &ev);
	switch (ev.type) {
	case MappingNotify:
		XRefreshKeyboardMapping(&ev.xmapping); // as toolkits do: keys typed after it use the new map
		break;
	case MapNotify:
		XSetInputFocus(dpy, win, RevertToPointerRoot, CurrentTime);
		XFlush(dpy);
		out.kind = 4;
		break;
	case KeyPress: {
		char buf[32];
		KeySym sym = NoSymbol;
		XLookupString(&ev.xkey, buf, sizeof buf, &sym, NULL);
		int ctrl = ev.xkey.state & ControlMask, shift = ev.xkey.state & ShiftMask;
		if (ctrl) {
			if ((sym == XK_v || sym == XK_V) && (!!shift) == terminal) {
				XConvertSelection(dpy, clipboard_atom, utf8_atom, target_atom, win, ev.xkey.time);
				XFlush(dpy);
				out.kind = 2;
			}
			break;
		}
		out.keysym = sym;
		out.keycode = ev.xkey.keycode;
		out.codepoint = xkb_keysym_to_utf32(sym);
		out.kind = 1;
		break;
	}
	case SelectionNotify: {
		if (ev.xselection.property == None) break;
		Atom type; int format; unsigned long n, after; unsigned char *data = NULL;
		if (XGetWindowProperty(dpy, win, target_atom, 0, 1 << 20, True, AnyPropertyType,
				&type, &format, &n, &after, &data) == Success && data) {
			out.kind = 3;
			out.data = malloc(n + 1);
			memcpy(out.data, data, n);
			out.len = n;
			XFree(data);
		}
		break;
	}
	}
	return out;
}
*/
import "C"

import (
	"flag"
	"log"
	"os"
	"unsafe"
)

func main() {
	out := flag.String("out", "", "file that mirrors the window's text")
	class := flag.String("class", "textwin", "WM_CLASS class name")
	terminal := flag.Bool("terminal", false, "paste with Ctrl+Shift+V only, like a terminal")
	flag.Parse()

	instance, cls := C.CString("textwin"), C.CString(*class)
	defer C.free(unsafe.Pointer(instance))
	defer C.free(unsafe.Pointer(cls))
	if C.tw_open(instance, cls) != 0 {
		log.Fatal("cannot open the display")
	}
	var text []rune
	save := func() {
		tmp := *out + ".tmp"
		if err := os.WriteFile(tmp, []byte(string(text)), 0o644); err == nil {
			os.Rename(tmp, *out)
		}
	}
	save()
	term := C.int(0)
	if *terminal {
		term = 1
	}
	const (
		keyReturn, keyTab, keyBackSpace = 0xff0d, 0xff09, 0xff08
	)
	for {
		e := C.tw_next(term)
		switch e.kind {
		case 4:
			os.WriteFile(*out+".ready", nil, 0o644)
		case 1:
			// The failing test prints this log: which key came and what it read as.
			log.Printf("key %d: keysym %#x", e.keycode, e.keysym)
			switch {
			case e.keysym == keyReturn:
				text = append(text, '\n')
			case e.keysym == keyTab:
				text = append(text, '\t')
			case e.keysym == keyBackSpace:
				if len(text) > 0 {
					text = text[:len(text)-1]
				}
			case e.codepoint >= 0x20 && e.codepoint != 0x7f:
				text = append(text, rune(e.codepoint))
			default:
				continue // modifiers and other keys type nothing
			}
			save()
		case 3:
			text = append(text, []rune(C.GoStringN(e.data, e.len))...)
			C.free(unsafe.Pointer(e.data))
			save()
		}
	}
}
