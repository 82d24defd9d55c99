// Package textout puts dictated text into the focused window: typed as keystrokes, or
// pasted through the clipboard (which is put back afterwards).
package textout

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/go-vgo/robotgo"
	"golang.design/x/clipboard"
)

// DefaultTerminalClasses are window classes that paste with Ctrl+Shift+V.
var DefaultTerminalClasses = []string{"xterm", "uxterm", "urxvt", "rxvt", "kitty", "alacritty", "foot", "footclient",
	"wezterm", "org.wezfurlong.wezterm", "gnome-terminal", "gnome-terminal-server", "org.gnome.terminal", "org.gnome.ptyxis",
	"konsole", "org.kde.konsole", "terminator", "tilix", "xfce4-terminal", "st", "st-256color", "terminology", "ghostty",
	"com.mitchellh.ghostty", "qterminal", "lxterminal", "mate-terminal", "sakura", "guake", "tilda", "yakuake"}

// PasteChords are the paste keys one can choose: auto is Cmd+V on macOS, Ctrl+Shift+V in
// terminals, else Ctrl+V.
var PasteChords = []string{"auto", "ctrl+v", "ctrl+shift+v", "shift+insert"}

// Config chooses how text goes out.
type Config struct {
	Mode            string        // "type" or "paste"
	TerminalClasses []string      // default DefaultTerminalClasses
	PasteChord      string        // one of PasteChords; "" or "auto" picks per window
	RestoreDelay    time.Duration // paste: how long the pasted text stays on the clipboard (default 500 ms)
	// TypeDelay is the pause after each typed character (default 3 ms; robotgo's 10 ms made
	// a sentence take over a second). Raise it for applications that drop characters.
	TypeDelay time.Duration
}

// Inserter inserts text. Calls are serialised; a paste's clipboard restore finishes before
// the next insert starts.
type Inserter struct {
	cfg       Config
	mu        sync.Mutex
	restoring chan struct{} // closed when the last paste's restore is done (guarded by mu)
	classes   map[string]bool
}

// New checks the mode and, for paste, that the clipboard is reachable.
func New(cfg Config) (*Inserter, error) {
	switch cfg.Mode {
	case "type":
	case "paste":
		if err := clipboard.Init(); err != nil {
			return nil, fmt.Errorf("clipboard unavailable (paste mode): %w", err)
		}
	default:
		return nil, fmt.Errorf("unknown output mode %q (want type or paste)", cfg.Mode)
	}
	switch cfg.PasteChord {
	case "":
		cfg.PasteChord = "auto"
	case "auto", "ctrl+v", "ctrl+shift+v", "shift+insert":
	default:
		return nil, fmt.Errorf("unknown paste chord %q (want one of %s)", cfg.PasteChord, strings.Join(PasteChords, ", "))
	}
	if cfg.TerminalClasses == nil {
		cfg.TerminalClasses = DefaultTerminalClasses
	}
	if cfg.RestoreDelay == 0 {
		cfg.RestoreDelay = 500 * time.Millisecond
	}
	if cfg.TypeDelay == 0 {
		cfg.TypeDelay = 3 * time.Millisecond
	}
	setTypeDelay(int(cfg.TypeDelay.Milliseconds()))
	i := &Inserter{cfg: cfg, classes: map[string]bool{}}
	for _, c := range cfg.TerminalClasses {
		i.classes[strings.ToLower(c)] = true
	}
	return i, nil
}

// Name is the mode, for records.
func (i *Inserter) Name() string { return i.cfg.Mode }

// Insert types or pastes text into the focused window.
func (i *Inserter) Insert(ctx context.Context, text string) error {
	if text == "" {
		return nil
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.restoring != nil {
		<-i.restoring // a previous paste's clipboard restore comes first
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if i.cfg.Mode == "paste" {
		return i.paste(ctx, text)
	}
	return typeText(text)
}

// typeText sends keystrokes; line breaks and tabs are sent as the Enter and Tab keys.
func typeText(text string) error {
	for n, line := range strings.Split(text, "\n") {
		if n > 0 {
			if err := robotgo.KeyTap("enter"); err != nil {
				return err
			}
		}
		for k, part := range strings.Split(line, "\t") {
			if k > 0 {
				if err := robotgo.KeyTap("tab"); err != nil {
					return err
				}
			}
			if part != "" {
				robotgo.TypeStr(part)
			}
		}
	}
	return nil
}

// PasteChord returns the keys that paste into a window with the given WM_CLASS names: the
// chosen chord, or for auto Cmd+V on macOS, Ctrl+Shift+V in terminals, else Ctrl+V.
func (i *Inserter) PasteChord(classes ...string) (key string, mods []any) {
	switch i.cfg.PasteChord {
	case "ctrl+v":
		return "v", []any{"ctrl"}
	case "ctrl+shift+v":
		return "v", []any{"ctrl", "shift"}
	case "shift+insert":
		return "insert", []any{"shift"}
	}
	if runtime.GOOS == "darwin" {
		return "v", []any{"cmd"}
	}
	for _, c := range classes {
		if i.classes[strings.ToLower(c)] {
			return "v", []any{"ctrl", "shift"}
		}
	}
	return "v", []any{"ctrl"}
}

func (i *Inserter) paste(ctx context.Context, text string) error {
	oldText, textErr := clipboard.Read(ctx, clipboard.FmtText)
	var oldImage []byte
	if textErr != nil || len(oldText) == 0 {
		oldImage, _ = clipboard.Read(ctx, clipboard.FmtImage)
	}
	if _, err := clipboard.Write(ctx, clipboard.FmtText, []byte(text)); err != nil {
		return fmt.Errorf("writing the clipboard: %w", err)
	}
	key, mods := i.PasteChord(FocusedWindowClasses()...)
	if err := robotgo.KeyTap(key, mods...); err != nil {
		return fmt.Errorf("sending the paste keys: %w", err)
	}
	// Put the user's clipboard back once the target has read ours, but only if nothing
	// else replaced ours meanwhile.
	restoring := make(chan struct{})
	i.restoring = restoring
	go func() {
		defer close(restoring)
		time.Sleep(i.cfg.RestoreDelay)
		bg := context.Background()
		cur, err := clipboard.Read(bg, clipboard.FmtText)
		if err != nil || string(cur) != text {
			return
		}
		switch {
		case len(oldText) > 0:
			clipboard.Write(bg, clipboard.FmtText, oldText)
		case len(oldImage) > 0:
			clipboard.Write(bg, clipboard.FmtImage, oldImage)
		}
	}()
	return nil
}

// Wait blocks until a pending clipboard restore is done (tests and shutdown).
func (i *Inserter) Wait() {
	i.mu.Lock()
	restoring := i.restoring
	i.mu.Unlock()
	if restoring != nil {
		<-restoring
	}
}

// Copy puts text on the clipboard; the channel closes when something else replaces it.
func Copy(ctx context.Context, text string) (<-chan struct{}, error) {
	if err := clipboard.Init(); err != nil {
		return nil, fmt.Errorf("clipboard unavailable: %w", err)
	}
	return clipboard.Write(ctx, clipboard.FmtText, []byte(text))
}
