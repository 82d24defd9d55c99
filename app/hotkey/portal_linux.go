package hotkey

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

// The xdg-desktop-portal GlobalShortcuts interface: Wayland compositors (KDE, GNOME 48+,
// Hyprland) hand global shortcuts to applications only through it. The user confirms or
// changes the trigger in the desktop's own dialog.
const (
	portalBus       = "org.freedesktop.portal.Desktop"
	portalPath      = "/org/freedesktop/portal/desktop"
	portalShortcuts = "org.freedesktop.portal.GlobalShortcuts"
	portalRequest   = "org.freedesktop.portal.Request"
	shortcutID      = "dictate"
)

// portalTrigger writes the spec in the shortcuts spec's trigger syntax ("CTRL+SHIFT+space").
func portalTrigger(s Spec) string {
	var parts []string
	for _, m := range []struct {
		bit  Modifiers
		name string
	}{{Ctrl, "CTRL"}, {Shift, "SHIFT"}, {Alt, "ALT"}, {Super, "LOGO"}} {
		if s.Mods&m.bit != 0 {
			parts = append(parts, m.name)
		}
	}
	key := map[string]string{"rightctrl": "Control_R", "leftctrl": "Control_L", "rightalt": "Alt_R", "leftalt": "Alt_L",
		"rightshift": "Shift_R", "leftshift": "Shift_L", "rightsuper": "Super_R", "leftsuper": "Super_L",
		"enter": "Return", "escape": "Escape", "scrolllock": "Scroll_Lock", "pageup": "Page_Up", "pagedown": "Page_Down"}[s.Key]
	if key == "" {
		key = s.Key
		if len(key) > 1 && key[0] == 'f' {
			key = strings.ToUpper(key)
		}
	}
	return strings.Join(append(parts, key), "+")
}

// PortalBus lets tests point the portal client at a private bus; nil uses the session bus.
var PortalBus func() (*dbus.Conn, error)

func listenPortal(ctx context.Context, spec Spec) (<-chan Event, error) {
	connect := PortalBus
	if connect == nil {
		connect = func() (*dbus.Conn, error) { return dbus.ConnectSessionBus() }
	}
	conn, err := connect()
	if err != nil {
		return nil, fmt.Errorf("cannot reach the session D-Bus for the GlobalShortcuts portal: %w", err)
	}
	signals := make(chan *dbus.Signal, 32)
	conn.Signal(signals)
	fail := func(err error) (<-chan Event, error) {
		conn.RemoveSignal(signals)
		conn.Close()
		return nil, err
	}
	if err := conn.AddMatchSignal(dbus.WithMatchInterface(portalRequest), dbus.WithMatchMember("Response")); err != nil {
		return fail(err)
	}
	if err := conn.AddMatchSignal(dbus.WithMatchInterface(portalShortcuts)); err != nil {
		return fail(err)
	}
	portal := conn.Object(portalBus, portalPath)
	setupCtx, cancel := context.WithTimeout(ctx, 2*time.Minute) // the user may be answering a dialog
	defer cancel()

	results, err := portalCall(setupCtx, conn, portal, signals, portalShortcuts+".CreateSession",
		map[string]dbus.Variant{"session_handle_token": dbus.MakeVariant(token())})
	if err != nil {
		return fail(fmt.Errorf("GlobalShortcuts portal: %w", err))
	}
	var session dbus.ObjectPath
	if v, ok := results["session_handle"]; ok {
		switch h := v.Value().(type) {
		case string:
			session = dbus.ObjectPath(h)
		case dbus.ObjectPath:
			session = h
		}
	}
	if !session.IsValid() {
		return fail(errors.New("GlobalShortcuts portal returned no session"))
	}
	shortcuts := []struct {
		ID   string
		Opts map[string]dbus.Variant
	}{{shortcutID, map[string]dbus.Variant{
		"description":       dbus.MakeVariant("Dictate: hold to talk"),
		"preferred_trigger": dbus.MakeVariant(portalTrigger(spec)),
	}}}
	if _, err := portalCall(setupCtx, conn, portal, signals, portalShortcuts+".BindShortcuts", session, shortcuts, ""); err != nil {
		return fail(fmt.Errorf("binding %s through the GlobalShortcuts portal: %w", spec, err))
	}

	out := make(chan Event, 16)
	go func() {
		defer close(out)
		defer func() {
			conn.Object(portalBus, session).Call("org.freedesktop.portal.Session.Close", 0)
			conn.RemoveSignal(signals)
			conn.Close()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case sig, ok := <-signals:
				if !ok {
					return
				}
				if len(sig.Body) < 2 || sig.Body[1] != shortcutID {
					continue
				}
				var e Event
				switch sig.Name {
				case portalShortcuts + ".Activated":
					e.Down = true
				case portalShortcuts + ".Deactivated":
				default:
					continue
				}
				e.At = time.Now()
				select {
				case out <- e:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

func token() string { return fmt.Sprintf("dictate%d", rand.Uint32()) }

// portalCall makes a portal request and waits for its Response. args end with the options
// dict, to which a handle_token is added (or are followed by one).
func portalCall(ctx context.Context, conn *dbus.Conn, obj dbus.BusObject, signals chan *dbus.Signal, method string, args ...any) (map[string]dbus.Variant, error) {
	tok := token()
	var opts map[string]dbus.Variant
	if m, ok := args[0].(map[string]dbus.Variant); ok && len(args) == 1 {
		opts = m
	} else {
		opts = map[string]dbus.Variant{}
		args = append(args, opts)
	}
	opts["handle_token"] = dbus.MakeVariant(tok)
	// The request object's path is known in advance, so its Response cannot be missed.
	sender := strings.ReplaceAll(strings.TrimPrefix(conn.Names()[0], ":"), ".", "_")
	want := dbus.ObjectPath(portalPath + "/request/" + sender + "/" + tok)
	var handle dbus.ObjectPath
	if err := obj.CallWithContext(ctx, method, 0, args...).Store(&handle); err != nil {
		return nil, err
	}
	if handle.IsValid() {
		want = handle
	}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case sig := <-signals:
			if sig.Path != want || sig.Name != portalRequest+".Response" || len(sig.Body) < 2 {
				continue
			}
			code, _ := sig.Body[0].(uint32)
			results, _ := sig.Body[1].(map[string]dbus.Variant)
			switch code {
			case 0:
				return results, nil
			case 1:
				return nil, errors.New("cancelled in the desktop's dialog")
			default:
				return nil, errors.New("refused by the desktop")
			}
		}
	}
}
