package wayland

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// VirtualKeyboardManager is the global a compositor offers virtual keyboards through
// (wlroots desktops such as Sway, Hyprland, COSMIC; not GNOME nor KDE Plasma).
const VirtualKeyboardManager = "zwp_virtual_keyboard_manager_v1"

// ErrNoVirtualKeyboard: the compositor offers no virtual keyboard to clients.
var ErrNoVirtualKeyboard = errors.New("the compositor offers no virtual keyboard (zwp_virtual_keyboard_manager_v1)")

// Keyboard types through a virtual keyboard. Each chunk of text gets a keymap of its own
// whose keys are exactly its characters (Unicode keysyms), uploaded before its keys are
// pressed: any character types as itself, emoji and CJK included, whatever the user's
// layout, since the layout plays no part.
type Keyboard struct {
	c     *Conn
	id    uint32
	start time.Time
	last  string // the keymap in place
}

// NewKeyboard creates a virtual keyboard on the compositor's first seat.
func NewKeyboard(c *Conn) (*Keyboard, error) {
	mg, ok := c.Find(VirtualKeyboardManager)
	if !ok {
		return nil, ErrNoVirtualKeyboard
	}
	manager, seat, err := c.bindWithSeat(mg)
	if err != nil {
		return nil, err
	}
	k := &Keyboard{c: c, start: time.Now()}
	if k.id, err = c.Create(nil, manager, 0, Uint(seat), NewObject); err != nil { // create_virtual_keyboard(seat, id)
		return nil, err
	}
	// A keymap from the start: until it has one, the compositor does not count the device
	// as a keyboard, and clients do not set up for its keys.
	if err := k.setKeymap(keymapFor([]string{"space"})); err != nil {
		return nil, err
	}
	if err := c.Roundtrip(); err != nil { // an unauthorized client is told so here
		return nil, fmt.Errorf("creating a virtual keyboard: %w", err)
	}
	return k, nil
}

const keymapFormatXKBV1 = 1

// setKeymap uploads an XKB keymap through a memfd (keymap(format, fd, size)).
func (k *Keyboard) setKeymap(keymap string) error {
	if keymap == k.last {
		return nil
	}
	fd, err := unix.MemfdCreate("dictate-keymap", unix.MFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("keymap memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "dictate-keymap")
	defer f.Close()
	data := append([]byte(keymap), 0)
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := k.c.Request(k.id, 0, Uint(keymapFormatXKBV1), FD(int(f.Fd())), Uint(uint32(len(data)))); err != nil {
		return err
	}
	k.last = keymap
	return nil
}

func (k *Keyboard) now() uint32 { return uint32(time.Since(k.start).Milliseconds()) }

// key presses (state 1) or releases (state 0) the key of keymap index i.
func (k *Keyboard) key(i int, pressed bool) error {
	state := uint32(0)
	if pressed {
		state = 1
	}
	return k.c.Request(k.id, 1, Uint(k.now()), Uint(uint32(firstKeycode+i-8)), Uint(state))
}

// modifiers sets the depressed modifier mask (Shift 1, Control 4).
func (k *Keyboard) modifiers(depressed uint32) error {
	return k.c.Request(k.id, 2, Uint(depressed), Uint(0), Uint(0), Uint(0))
}

// Type types text, a character at a time, and returns once the compositor has taken every
// key. Line breaks go as Return, tabs as Tab.
func (k *Keyboard) Type(ctx context.Context, text string) error {
	for _, ch := range chunks(text) {
		if err := k.setKeymap(keymapFor(ch.syms)); err != nil {
			return err
		}
		for _, i := range ch.keys {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := k.key(i, true); err != nil {
				return err
			}
			if err := k.key(i, false); err != nil {
				return err
			}
		}
		// Each chunk's keys are taken before the next keymap replaces this one.
		if err := k.c.Roundtrip(); err != nil {
			return err
		}
	}
	return nil
}

// Modifier names for Chord.
const (
	Shift   = "Shift_L"
	Control = "Control_L"
)

var modifierMask = map[string]uint32{Shift: 1, Control: 4}

// Chord presses modifiers and a key together (a paste chord: Control+v, Control+Shift+v,
// Shift+Insert) and releases them; key is a keysym name (v, Insert).
func (k *Keyboard) Chord(key string, mods ...string) error {
	syms := append(append([]string(nil), mods...), key)
	if err := k.setKeymap(keymapFor(syms)); err != nil {
		return err
	}
	var mask uint32
	for i, m := range mods {
		if err := k.key(i, true); err != nil {
			return err
		}
		mask |= modifierMask[m]
	}
	if err := k.modifiers(mask); err != nil {
		return err
	}
	keyIndex := len(mods)
	if err := k.key(keyIndex, true); err != nil {
		return err
	}
	if err := k.key(keyIndex, false); err != nil {
		return err
	}
	for i := len(mods) - 1; i >= 0; i-- {
		if err := k.key(i, false); err != nil {
			return err
		}
	}
	if err := k.modifiers(0); err != nil {
		return err
	}
	return k.c.Roundtrip()
}

// Close destroys the virtual keyboard.
func (k *Keyboard) Close() error {
	err := k.c.Request(k.id, 3) // destroy
	k.c.Forget(k.id)
	return err
}
