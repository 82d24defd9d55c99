package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"github.com/dictate-app/dictate/app"
)

// HotkeyCapture is a button that, once tapped, records the next key combination pressed
// (modifiers plus one key, or one right-hand modifier alone) as a hotkey spec.
type HotkeyCapture struct {
	widget.Button
	Spec      string
	OnChanged func(spec string)
	OnInvalid func(reason string)

	capturing bool
	held      []fyne.KeyName // modifiers held, in order
	lone      fyne.KeyName   // a modifier pressed with nothing else yet
}

// NewHotkeyCapture shows spec until tapped.
func NewHotkeyCapture(spec string) *HotkeyCapture {
	h := &HotkeyCapture{Spec: spec}
	h.ExtendBaseWidget(h)
	h.Text = spec
	h.OnTapped = h.startCapture
	return h
}

// SetSpec shows a spec without capturing.
func (h *HotkeyCapture) SetSpec(spec string) {
	h.Spec, h.capturing = spec, false
	h.SetText(spec)
}

func (h *HotkeyCapture) startCapture() {
	h.capturing, h.held, h.lone = true, nil, ""
	h.SetText("Press the new hotkey… (Esc cancels)")
	if c := fyne.CurrentApp().Driver().CanvasForObject(h); c != nil {
		c.Focus(h)
	}
}

// Capturing says whether the widget waits for keys.
func (h *HotkeyCapture) Capturing() bool { return h.capturing }

var modifierNames = map[fyne.KeyName]string{
	desktop.KeyControlLeft: "ctrl", desktop.KeyControlRight: "ctrl", desktop.KeyShiftLeft: "shift", desktop.KeyShiftRight: "shift",
	desktop.KeyAltLeft: "alt", desktop.KeyAltRight: "alt", desktop.KeySuperLeft: "super", desktop.KeySuperRight: "super",
}

// loneModifiers are the modifiers usable alone as a hotkey.
var loneModifiers = map[fyne.KeyName]string{
	desktop.KeyControlRight: "RightCtrl", desktop.KeyAltRight: "RightAlt", desktop.KeyShiftRight: "RightShift", desktop.KeySuperRight: "RightSuper",
}

var fyneKeyNames = map[fyne.KeyName]string{
	fyne.KeySpace: "space", fyne.KeyReturn: "enter", fyne.KeyEnter: "enter", fyne.KeyTab: "tab", fyne.KeyInsert: "insert",
	fyne.KeyDelete: "delete", fyne.KeyBackspace: "backspace", fyne.KeyHome: "home", fyne.KeyEnd: "end",
	fyne.KeyPageUp: "pageup", fyne.KeyPageDown: "pagedown", fyne.KeyUp: "up", fyne.KeyDown: "down",
	fyne.KeyLeft: "left", fyne.KeyRight: "right", desktop.KeyMenu: "menu",
}

// KeyDown collects modifiers and finishes on the first other key.
func (h *HotkeyCapture) KeyDown(e *fyne.KeyEvent) {
	if !h.capturing {
		return
	}
	if e.Name == fyne.KeyEscape {
		h.SetSpec(h.Spec)
		return
	}
	if _, ok := modifierNames[e.Name]; ok {
		h.held = append(h.held, e.Name)
		h.lone = ""
		if len(h.held) == 1 {
			h.lone = e.Name
		}
		return
	}
	h.lone = ""
	key := fyneKeyNames[e.Name]
	if key == "" {
		key = strings.ToLower(string(e.Name))
	}
	var parts []string
	seen := map[string]bool{}
	for _, m := range h.held {
		if n := modifierNames[m]; !seen[n] {
			seen[n] = true
			parts = append(parts, n)
		}
	}
	h.finish(strings.Join(append(parts, key), "+"))
}

// KeyUp finishes a lone right-hand modifier (pressed and released with nothing else).
func (h *HotkeyCapture) KeyUp(e *fyne.KeyEvent) {
	if !h.capturing {
		return
	}
	if e.Name == h.lone {
		if spec, ok := loneModifiers[e.Name]; ok {
			h.finish(spec)
			return
		}
	}
	for i, m := range h.held {
		if m == e.Name {
			h.held = append(h.held[:i], h.held[i+1:]...)
			break
		}
	}
	h.lone = ""
}

func (h *HotkeyCapture) finish(spec string) {
	if err := app.ValidateHotkey(spec); err != nil {
		h.SetSpec(h.Spec)
		if h.OnInvalid != nil {
			h.OnInvalid(err.Error())
		}
		return
	}
	h.SetSpec(spec)
	if h.OnChanged != nil {
		h.OnChanged(spec)
	}
}

// Focus handling: keys reach the widget only while it has focus.
func (h *HotkeyCapture) FocusGained() {}
func (h *HotkeyCapture) FocusLost() {
	if h.capturing {
		h.SetSpec(h.Spec)
	}
}
func (h *HotkeyCapture) TypedRune(rune)          {}
func (h *HotkeyCapture) TypedKey(*fyne.KeyEvent) {}
