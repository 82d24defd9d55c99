package testenv

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// A11y reaches the session's applications through AT-SPI, the accessibility bus screen
// readers use: it finds a widget by its accessible name and role, and performs its action
// (a click, a toggle) as the user would, whatever has the keyboard focus.
type A11y struct {
	conn *dbus.Conn
}

type a11yNode struct {
	Bus  string
	Path dbus.ObjectPath
}

const (
	atspiAccessible = "org.a11y.atspi.Accessible"
	atspiRoot       = dbus.ObjectPath("/org/a11y/atspi/accessible/root")
)

// A11y connects to the session's accessibility bus (started on demand by D-Bus).
func (m *Mutter) A11y(t testing.TB) *A11y {
	t.Helper()
	var addr string
	if err := m.conn.Object("org.a11y.Bus", "/org/a11y/bus").Call("org.a11y.Bus.GetAddress", 0).Store(&addr); err != nil {
		t.Fatalf("no accessibility bus: %v", err)
	}
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("accessibility bus %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &A11y{conn: conn}
}

func (a *A11y) children(n a11yNode) []a11yNode {
	var kids []a11yNode
	if err := a.conn.Object(n.Bus, n.Path).Call(atspiAccessible+".GetChildren", 0).Store(&kids); err != nil {
		return nil
	}
	return kids
}

func (a *A11y) describe(n a11yNode) (name, role string) {
	obj := a.conn.Object(n.Bus, n.Path)
	if v, err := obj.GetProperty(atspiAccessible + ".Name"); err == nil {
		name, _ = v.Value().(string)
	}
	obj.Call(atspiAccessible+".GetRoleName", 0).Store(&role)
	return name, role
}

// actions is how many actions a widget offers (none where it has no Action interface).
func (a *A11y) actions(n a11yNode) int32 {
	v, err := a.conn.Object(n.Bus, n.Path).GetProperty("org.a11y.atspi.Action.NActions")
	if err != nil {
		return 0
	}
	count, _ := v.Value().(int32)
	return count
}

// sensitive reports a widget that takes input now (AT-SPI's SENSITIVE state).
func (a *A11y) sensitive(n a11yNode) bool {
	var states []uint32
	if err := a.conn.Object(n.Bus, n.Path).Call(atspiAccessible+".GetState", 0).Store(&states); err != nil || len(states) == 0 {
		return false
	}
	const stateSensitive = 24
	return states[0]&(1<<stateSensitive) != 0
}

// find walks every application's tree for a widget whose name and role match.
func (a *A11y) find(name string, roles []string) (a11yNode, bool, []string) {
	var seen []string
	var walk func(n a11yNode, depth int) (a11yNode, bool)
	walk = func(n a11yNode, depth int) (a11yNode, bool) {
		if depth > 40 {
			return a11yNode{}, false
		}
		for _, k := range a.children(n) {
			kn, kr := a.describe(k)
			if kn != "" {
				seen = append(seen, kr+" "+kn)
			}
			if strings.EqualFold(kn, name) && a.actions(k) > 0 {
				for _, r := range roles {
					if kr == r {
						return k, true
					}
				}
				seen = append(seen, fmt.Sprintf("(%s %q has %d actions)", kr, kn, a.actions(k)))
			}
			if found, ok := walk(k, depth+1); ok {
				return found, true
			}
		}
		return a11yNode{}, false
	}
	n, ok := walk(a11yNode{Bus: "org.a11y.atspi.Registry", Path: atspiRoot}, 0)
	return n, ok, seen
}

// Do waits for the widget named name with one of roles to appear (in any application)
// and performs its first action.
func (a *A11y) Do(t testing.TB, name string, roles ...string) {
	t.Helper()
	var n a11yNode
	var seen []string
	if !WaitFor(20*time.Second, func() bool {
		var ok bool
		n, ok, seen = a.find(name, roles)
		return ok && a.sensitive(n) // a button made sensitive by an earlier action, once it is
	}) {
		t.Fatalf("no %v named %q among the session's widgets: %s", roles, name, strings.Join(seen, "; "))
	}
	_, role := a.describe(n)
	var action string
	a.conn.Object(n.Bus, n.Path).Call("org.a11y.atspi.Action.GetName", 0, int32(0)).Store(&action)
	t.Logf("a11y: %s %q: %s (%d actions)", role, name, action, a.actions(n))
	if err := a.conn.Object(n.Bus, n.Path).Call("org.a11y.atspi.Action.DoAction", 0, int32(0)).Err; err != nil {
		t.Fatal(fmt.Errorf("%s %q: %w", roles, name, err))
	}
}

// textWidget finds the first widget with role in the application named app.
func (a *A11y) textWidget(app, role string) (a11yNode, bool) {
	var walk func(n a11yNode, depth int) (a11yNode, bool)
	walk = func(n a11yNode, depth int) (a11yNode, bool) {
		if depth > 40 {
			return a11yNode{}, false
		}
		for _, k := range a.children(n) {
			if _, r := a.describe(k); r == role {
				return k, true
			}
			if found, ok := walk(k, depth+1); ok {
				return found, true
			}
		}
		return a11yNode{}, false
	}
	for _, top := range a.children(a11yNode{Bus: "org.a11y.atspi.Registry", Path: atspiRoot}) {
		if name, _ := a.describe(top); strings.EqualFold(name, app) {
			return walk(top, 0)
		}
	}
	return a11yNode{}, false
}

// Text returns the text of application app's first widget with role ("text
// box: a GTK text view), read through AT-SPI's Text interface; "" when there is none yet.
func (a *A11y) Text(app, role string) string {
	n, ok := a.textWidget(app, role)
	if !ok {
		return ""
	}
	var text string
	a.conn.Object(n.Bus, n.Path).Call("org.a11y.atspi.Text.GetText", 0, int32(0), int32(-1)).Store(&text)
	return text
}

// dump lists the applications and their widgets' roles and names, for failure messages.
func (a *A11y) dump() string {
	var b strings.Builder
	var walk func(n a11yNode, depth int)
	walk = func(n a11yNode, depth int) {
		if depth > 12 {
			return
		}
		for _, k := range a.children(n) {
			name, role := a.describe(k)
			fmt.Fprintf(&b, "%s%s %q\n", strings.Repeat("  ", depth), role, name)
			walk(k, depth+1)
		}
	}
	walk(a11yNode{Bus: "org.a11y.atspi.Registry", Path: atspiRoot}, 0)
	return b.String()
}
