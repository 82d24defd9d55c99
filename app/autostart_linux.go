package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/adrg/xdg"
	"github.com/dictate-app/dictate/internal/atomicfile"
)

// AutostartPath is the freedesktop autostart entry Dictate writes.
func AutostartPath() string {
	return filepath.Join(xdg.ConfigHome, "autostart", "org.dictate.Dictate.desktop")
}

// SetLaunchAtLogin adds or removes the freedesktop autostart entry, which starts this
// executable's GUI at login (the window then follows the start-minimised setting).
func SetLaunchAtLogin(enable bool) error {
	path := AutostartPath()
	if !enable {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	entry := fmt.Sprintf(`[Desktop Entry]
Type=Application
Name=Dictate
Comment=Local speech-to-text: hold a hotkey, speak, release
Exec=%s gui
Icon=org.dictate.Dictate
X-GNOME-Autostart-enabled=true
NoDisplay=false
`, desktopExecQuote(exe))
	return atomicfile.WriteBytes(path, 0o644, []byte(entry))
}

// desktopExecQuote quotes a path for a .desktop Exec line (the spec's reserved characters).
func desktopExecQuote(s string) string {
	if !strings.ContainsAny(s, " \t\"'\\><~|&;$*?#()`") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\\\`, `"`, `\\"`, "`", "\\\\`", "$", `\\$`)
	return `"` + r.Replace(s) + `"`
}
