package hotkey

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dictate-app/dictate/internal/portal"
	"github.com/godbus/dbus/v5"
)

// The xdg-desktop-portal GlobalShortcuts interface: Wayland compositors (KDE, GNOME 48+,
// Hyprland) hand global shortcuts to applications only through it. The user confirms or
// changes the trigger in the desktop's own dialog.
const (
	portalShortcuts = "org.freedesktop.portal.GlobalShortcuts"
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
	conn, err := portal.Connect(PortalBus, portalShortcuts)
	if err != nil {
		return nil, fmt.Errorf("GlobalShortcuts portal: %w", err)
	}
	fail := func(err error) (<-chan Event, error) {
		conn.Close()
		return nil, err
	}
	setupCtx, cancel := context.WithTimeout(ctx, 2*time.Minute) // the user may be answering a dialog
	defer cancel()

	results, err := conn.Call(setupCtx, portalShortcuts+".CreateSession",
		map[string]dbus.Variant{"session_handle_token": dbus.MakeVariant(portal.Token())})
	if err != nil {
		return fail(fmt.Errorf("GlobalShortcuts portal: %w", err))
	}
	session, err := portal.SessionHandle(results)
	if err != nil {
		return fail(fmt.Errorf("GlobalShortcuts portal: %w", err))
	}
	shortcuts := []struct {
		ID   string
		Opts map[string]dbus.Variant
	}{{shortcutID, map[string]dbus.Variant{
		"description":       dbus.MakeVariant("Dictate: hold to talk"),
		"preferred_trigger": dbus.MakeVariant(portalTrigger(spec)),
	}}}
	if _, err := conn.Call(setupCtx, portalShortcuts+".BindShortcuts", session, shortcuts, ""); err != nil {
		return fail(fmt.Errorf("binding %s through the GlobalShortcuts portal: %w", spec, err))
	}

	out := make(chan Event, 16)
	go func() {
		defer close(out)
		defer func() {
			conn.CloseSession(session)
			conn.Close()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case sig, ok := <-conn.Signals:
				if !ok {
					return
				}
				if len(sig.Body) < 2 || sig.Body[1] != shortcutID {
					continue
				}
				var down bool
				switch sig.Name {
				case portalShortcuts + ".Activated":
					down = true
				case portalShortcuts + ".Deactivated":
				default:
					continue
				}
				if !deliver(ctx, out, Event{Down: down, At: time.Now()}) {
					return
				}
			}
		}
	}()
	return out, nil
}
