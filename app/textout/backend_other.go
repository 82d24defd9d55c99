//go:build !linux

package textout

import "fmt"

// open uses the system's keyboard and clipboard (robotgo, golang.design/x/clipboard).
func open(cfg Config) (Backend, keyboard, clipboard, error) {
	switch cfg.Backend {
	case "auto", "xtest":
	case "clipboard":
		clip, err := openSystemClipboard()
		if err != nil {
			return Backend{}, nil, nil, err
		}
		return Backend{Name: "clipboard", Keyboard: "none", Clipboard: "system", Why: "chosen in the settings"}, nil, clip, nil
	default:
		return Backend{}, nil, nil, fmt.Errorf("text output %q exists on Linux only", cfg.Backend)
	}
	b := Backend{Name: "system", Keyboard: "system key events", Clipboard: "system"}
	clip, err := openSystemClipboard()
	if err != nil {
		b.Clipboard = ""
		return b, newSystemKeyboard(int(cfg.TypeDelay.Milliseconds())), nil, nil
	}
	return b, newSystemKeyboard(int(cfg.TypeDelay.Milliseconds())), clip, nil
}

func openClipboard() (clipboard, string, error) {
	c, err := openSystemClipboard()
	return c, "system", err
}

func sharedClipboard() (clipboard, string, error) { return openClipboard() }

func focusedWindowClasses(string) []string { return nil }
