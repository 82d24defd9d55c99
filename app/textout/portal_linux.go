package textout

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/adrg/xdg"
	"github.com/godbus/dbus/v5"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/dictate-app/dictate/internal/atomicfile"
	"github.com/dictate-app/dictate/internal/portal"
)

const remoteDesktop = "org.freedesktop.portal.RemoteDesktop"

// PortalBus lets tests point the portal client at another bus; nil is the session bus.
var PortalBus func() (*dbus.Conn, error)

// DefaultTokenPath keeps the RemoteDesktop portal's restore token.
func DefaultTokenPath() string {
	return filepath.Join(xdg.StateHome, "dictate", "remote-desktop-token")
}

// portalKeyboard types through the RemoteDesktop portal (GNOME, KDE Plasma): a session
// with the keyboard only, kept across restarts by a restore token (persist_mode 2) so the
// user consents once. Text goes as keysyms where the layout holds every character;
// otherwise the Inserter pastes it, with the paste chord sent as key codes.
type portalKeyboard struct {
	conn    *portal.Conn
	session dbus.ObjectPath
	keysyms map[uint32]bool // the active layout's (through XWayland); nil when unknown
	primed  bool
}

func openPortal(cfg Config) (Backend, keyboard, clipboard, error) {
	conn, err := portal.Connect(PortalBus, clipboardPortal)
	if err != nil {
		return Backend{}, nil, nil, err
	}
	v, err := conn.Portal().GetProperty(remoteDesktop + ".version")
	if err != nil {
		conn.Close()
		return Backend{}, nil, nil, fmt.Errorf("no RemoteDesktop portal: %w", err)
	}
	b := Backend{Name: "portal", Keyboard: fmt.Sprintf("RemoteDesktop portal v%v (keyboard)", v.Value())}
	if cfg.TokenPath == detectOnly {
		conn.Close()
		return b, nil, nil, nil
	}
	tokenPath := cfg.TokenPath
	if tokenPath == "" {
		tokenPath = DefaultTokenPath()
	}
	kb, withClipboard, err := startPortal(conn, tokenPath)
	if err != nil {
		conn.Close()
		return Backend{}, nil, nil, err
	}
	if withClipboard {
		b.Clipboard = "RemoteDesktop portal"
		return b, kb, newPortalClipboard(conn, kb.session), nil
	}
	// An older portal, or consent given before Dictate asked for the clipboard: the one
	// XWayland shares, which reaches Wayland windows a moment after it is set.
	clip, name, _ := openClipboard()
	b.Clipboard = name
	return b, kb, clip, nil
}

// startPortal opens the session, with the clipboard where the portal shares it (reported):
// the first time the desktop asks the user, later runs restore the token saved then and
// ask nothing.
func startPortal(conn *portal.Conn, tokenPath string) (*portalKeyboard, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // the user may be answering
	defer cancel()
	res, err := conn.Call(ctx, remoteDesktop+".CreateSession", map[string]dbus.Variant{"session_handle_token": dbus.MakeVariant(portal.Token())})
	if err != nil {
		return nil, false, fmt.Errorf("RemoteDesktop portal: %w", err)
	}
	session, err := portal.SessionHandle(res)
	if err != nil {
		return nil, false, err
	}
	const keyboardDevice, persistUntilRevoked = uint32(1), uint32(2)
	opts := map[string]dbus.Variant{"types": dbus.MakeVariant(keyboardDevice), "persist_mode": dbus.MakeVariant(persistUntilRevoked)}
	if tok, err := os.ReadFile(tokenPath); err == nil && len(strings.TrimSpace(string(tok))) > 0 {
		opts["restore_token"] = dbus.MakeVariant(strings.TrimSpace(string(tok)))
	}
	if _, err := conn.Call(ctx, remoteDesktop+".SelectDevices", session, opts); err != nil {
		return nil, false, fmt.Errorf("RemoteDesktop portal: choosing the keyboard: %w", err)
	}
	// The clipboard must be asked for before Start; a portal without it refuses the call.
	askedClipboard := conn.Portal().CallWithContext(ctx, clipboardPortal+".RequestClipboard", 0, session, map[string]dbus.Variant{}).Err == nil
	res, err = conn.Call(ctx, remoteDesktop+".Start", session, "", map[string]dbus.Variant{})
	if err != nil {
		return nil, false, fmt.Errorf("RemoteDesktop portal: %w", err)
	}
	if devices, _ := res["devices"].Value().(uint32); devices&keyboardDevice == 0 {
		return nil, false, errors.New("RemoteDesktop portal: the keyboard was not granted")
	}
	if tok, ok := res["restore_token"].Value().(string); ok && tok != "" {
		if err := atomicfile.WriteBytes(tokenPath, 0o600, []byte(tok+"\n")); err != nil {
			return nil, false, fmt.Errorf("keeping the RemoteDesktop consent: %w", err)
		}
	}
	clipboard, _ := res["clipboard_enabled"].Value().(bool)
	return &portalKeyboard{conn: conn, session: session, keysyms: layoutKeysyms()}, askedClipboard && clipboard, nil
}

func (p *portalKeyboard) notify(method string, code int32, pressed bool) error {
	state := uint32(0)
	if pressed {
		state = 1
	}
	return p.conn.Portal().Call(remoteDesktop+"."+method, 0, p.session, map[string]dbus.Variant{}, code, state).Err
}

// prime sends a lone Shift first: GNOME drops the first key event of a new remote desktop
// session, which would otherwise be the text's first character.
func (p *portalKeyboard) prime() error {
	if p.primed {
		return nil
	}
	p.primed = true
	if err := p.notify("NotifyKeyboardKeycode", evdevCodes["Shift_L"], true); err != nil {
		return err
	}
	return p.notify("NotifyKeyboardKeycode", evdevCodes["Shift_L"], false)
}

// CanType: keysyms type only what the active layout holds; ASCII (and line breaks and
// tabs) where the layout is known to hold it, or is not known at all. The layout is read
// again for each insertion: the user may have switched it.
func (p *portalKeyboard) CanType(text string) bool {
	p.keysyms = layoutKeysyms()
	for _, r := range text {
		if r == '\n' || r == '\t' {
			continue
		}
		if r < 0x20 || r > 0x7e || (p.keysyms != nil && !p.keysyms[uint32(r)]) {
			return false
		}
	}
	return true
}

func (p *portalKeyboard) Type(ctx context.Context, text string) error {
	if err := p.prime(); err != nil {
		return err
	}
	for _, r := range text {
		if err := ctx.Err(); err != nil {
			return err
		}
		sym := int32(r)
		switch r {
		case '\n':
			sym = 0xff0d // Return
		case '\t':
			sym = 0xff09 // Tab
		}
		if err := p.notify("NotifyKeyboardKeysym", sym, true); err != nil {
			return err
		}
		if err := p.notify("NotifyKeyboardKeysym", sym, false); err != nil {
			return err
		}
	}
	return nil
}

// evdevCodes are the key codes chords are sent as: a code, unlike a keysym, means the same
// key in every layout (Ctrl+V pastes on a Cyrillic layout too).
var evdevCodes = map[string]int32{"Control_L": 29, "Shift_L": 42, "Super_L": 125, "v": 47, "Insert": 110}

func (p *portalKeyboard) Chord(ctx context.Context, key string, mods ...string) error {
	if err := p.prime(); err != nil {
		return err
	}
	// A layout without Latin letters (Russian alone) has no V: Ctrl with V's key code is
	// Ctrl+М there, which GTK does not take for paste (measured on mutter). Shift+Insert
	// pastes the clipboard in GTK and Qt whatever the layout.
	if key == "v" && len(mods) == 1 && p.keysyms != nil && !p.keysyms['v'] {
		key, mods = "Insert", []string{"Shift_L"}
	}
	keys := append(append([]string(nil), mods...), key)
	for _, k := range keys {
		if err := p.notify("NotifyKeyboardKeycode", evdevCodes[k], true); err != nil {
			return err
		}
	}
	for i := len(keys) - 1; i >= 0; i-- {
		if err := p.notify("NotifyKeyboardKeycode", evdevCodes[keys[i]], false); err != nil {
			return err
		}
	}
	return nil
}

func (p *portalKeyboard) Close() error {
	p.conn.CloseSession(p.session)
	return p.conn.Close()
}

// layoutKeysyms reads the active keyboard map's keysyms from the X server (XWayland on
// GNOME shares the Wayland seat's layout), or nil without one.
func layoutKeysyms() map[uint32]bool {
	if os.Getenv("DISPLAY") == "" {
		return nil
	}
	conn, err := xgb.NewConn()
	if err != nil {
		return nil
	}
	defer conn.Close()
	setup := xproto.Setup(conn)
	count := byte(setup.MaxKeycode - setup.MinKeycode + 1)
	m, err := xproto.GetKeyboardMapping(conn, setup.MinKeycode, count).Reply()
	if err != nil {
		return nil
	}
	syms := map[uint32]bool{}
	for _, s := range m.Keysyms {
		if s != 0 {
			syms[uint32(s)] = true
		}
	}
	return syms
}
