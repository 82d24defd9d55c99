package app

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/adrg/xdg"
)

func TestLaunchAtLogin(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	xdg.Reload()
	defer xdg.Reload()
	if err := SetLaunchAtLogin(true); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(AutostartPath())
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	if !strings.Contains(string(b), "\nExec="+desktopExecQuote(exe)+" gui\n") {
		t.Errorf("autostart entry does not start the GUI:\n%s", b)
	}
	if !strings.HasPrefix(string(b), "[Desktop Entry]\n") {
		t.Errorf("not a desktop entry:\n%s", b)
	}
	if err := SetLaunchAtLogin(false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(AutostartPath()); !errors.Is(err, os.ErrNotExist) {
		t.Error("the autostart entry is still there")
	}
	if err := SetLaunchAtLogin(false); err != nil {
		t.Errorf("removing twice: %v", err)
	}
}

func TestDesktopExecQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/dictate":        "/usr/bin/dictate",
		"/home/a b/dictate":       `"/home/a b/dictate"`,
		`/opt/$x/"q"/dictate`:     `"/opt/\\$x/\\"q\\"/dictate"`,
		`/opt/back\slash/dictate`: `"/opt/back\\\\slash/dictate"`,
	} {
		if got := desktopExecQuote(in); got != want {
			t.Errorf("%s: got %s want %s", in, got, want)
		}
	}
}
