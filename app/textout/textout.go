// Package textout puts dictated text into the focused window: typed as keystrokes, or
// pasted through the clipboard (which is put back afterwards). Which keyboard and
// clipboard it uses is picked per session (Detect): XTest and the X11 clipboard on X11, a
// Wayland virtual keyboard and the data-control clipboard on wlroots desktops, the
// RemoteDesktop portal on GNOME and KDE Plasma, the system's own APIs on macOS and
// Windows; where nothing can type, the text goes to the clipboard and the caller is told.
package textout

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultTerminalClasses are window classes that paste with Ctrl+Shift+V.
var DefaultTerminalClasses = []string{"xterm", "uxterm", "urxvt", "rxvt", "kitty", "alacritty", "foot", "footclient",
	"wezterm", "org.wezfurlong.wezterm", "gnome-terminal", "gnome-terminal-server", "org.gnome.terminal", "org.gnome.ptyxis",
	"konsole", "org.kde.konsole", "terminator", "tilix", "xfce4-terminal", "st", "st-256color", "terminology", "ghostty",
	"com.mitchellh.ghostty", "qterminal", "lxterminal", "mate-terminal", "sakura", "guake", "tilda", "yakuake", "org.gnome.console",
	"kgx"}

// PasteChords are the paste keys one can choose: auto is Cmd+V on macOS, Ctrl+Shift+V in
// terminals, else Ctrl+V.
var PasteChords = []string{"auto", "ctrl+v", "ctrl+shift+v", "shift+insert"}

// Backends are the keyboards one can choose: auto picks by session (Detect).
var Backends = []string{"auto", "xtest", "wayland", "portal", "clipboard"}

// Config chooses how text goes out.
type Config struct {
	Mode            string        // "type" or "paste"
	Backend         string        // one of Backends; "" is auto
	TerminalClasses []string      // default DefaultTerminalClasses
	PasteChord      string        // one of PasteChords; "" or "auto" picks per window
	RestoreDelay    time.Duration // paste: how long the pasted text stays on the clipboard (default 500 ms)
	// TypeDelay is the pause after each typed character where robotgo types (macOS,
	// Windows; default 3 ms, robotgo's 10 ms made a sentence take over a second). Raise it
	// for applications that drop characters. Linux's keyboards send keys without pauses.
	TypeDelay time.Duration
	// TokenPath keeps the RemoteDesktop portal's restore token, so the user consents once
	// (default $XDG_STATE_HOME/dictate/remote-desktop-token).
	TokenPath string
}

// keyboard sends key events to the focused window.
type keyboard interface {
	Type(ctx context.Context, text string) error
	// Chord presses mods and key together and releases them; key is a keysym name (v,
	// Insert), mods are Control_L, Shift_L or Super_L.
	Chord(ctx context.Context, key string, mods ...string) error
	Close() error
}

// clipboard holds what is pasted.
type clipboard interface {
	Read(ctx context.Context) (Content, error)
	// Write makes c the content; the channel closes when something else replaces it.
	Write(ctx context.Context, c Content) (<-chan struct{}, error)
}

// Content is what a clipboard holds: text, or (on X11) an image the user had copied.
type Content struct {
	Text  string
	Image []byte // PNG
}

func (c Content) empty() bool { return c.Text == "" && len(c.Image) == 0 }

// ErrCopiedOnly is returned by Insert where no keyboard can reach the focused window: the
// text is on the clipboard instead (the error says why), for the user to paste.
var ErrCopiedOnly = errors.New("copied to the clipboard instead of typed")

// Inserter inserts text. Calls are serialised; a paste's clipboard restore finishes before
// the next insert starts.
type Inserter struct {
	cfg       Config
	backend   Backend
	kb        keyboard  // nil when nothing can type (backend "clipboard")
	clip      clipboard // nil where there is no clipboard
	mu        sync.Mutex
	restoring chan struct{} // closed when the last paste's restore is done (guarded by mu)
	classes   map[string]bool
}

// Backend says which keyboard and clipboard a session uses, and why.
type Backend struct {
	Name      string // xtest, wayland, portal, clipboard, system
	Keyboard  string // what types: "XTest", "Wayland virtual keyboard (zwp_virtual_keyboard_v1)", …
	Clipboard string // what holds pasted text, or "" for none
	Why       string // why this one: the session found, or why nothing can type
}

func (b Backend) String() string {
	s := b.Name + ": " + b.Keyboard
	if b.Clipboard != "" {
		s += ", clipboard " + b.Clipboard
	}
	if b.Why != "" {
		s += " (" + b.Why + ")"
	}
	return s
}

// New checks the mode, picks the keyboard and clipboard, and for paste mode that there is
// a clipboard.
func New(cfg Config) (*Inserter, error) {
	if cfg.Mode != "type" && cfg.Mode != "paste" {
		return nil, fmt.Errorf("unknown output mode %q (want type or paste)", cfg.Mode)
	}
	switch cfg.PasteChord {
	case "":
		cfg.PasteChord = "auto"
	case "auto", "ctrl+v", "ctrl+shift+v", "shift+insert":
	default:
		return nil, fmt.Errorf("unknown paste chord %q (want one of %s)", cfg.PasteChord, strings.Join(PasteChords, ", "))
	}
	if cfg.Backend == "" {
		cfg.Backend = "auto"
	}
	if !slices.Contains(Backends, cfg.Backend) {
		return nil, fmt.Errorf("unknown text output %q (want one of %s)", cfg.Backend, strings.Join(Backends, ", "))
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
	i := &Inserter{cfg: cfg, classes: map[string]bool{}}
	for _, c := range cfg.TerminalClasses {
		i.classes[strings.ToLower(c)] = true
	}
	var err error
	if i.backend, i.kb, i.clip, err = open(cfg); err != nil {
		return nil, err
	}
	if cfg.Mode == "paste" && i.clip == nil && i.kb != nil {
		i.Close()
		return nil, fmt.Errorf("paste mode needs a clipboard, and this session has none (%s); use type mode", i.backend.Why)
	}
	return i, nil
}

// Name is the mode, for records.
func (i *Inserter) Name() string { return i.cfg.Mode }

// Backend says which keyboard and clipboard are in use.
func (i *Inserter) Backend() Backend { return i.backend }

// Insert types or pastes text into the focused window. Where nothing can type, the text
// goes to the clipboard and the error wraps ErrCopiedOnly.
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
	if i.kb == nil {
		if i.clip == nil {
			return fmt.Errorf("nothing can insert text in this session: %s", i.backend.Why)
		}
		if _, err := i.clip.Write(ctx, Content{Text: text}); err != nil {
			return fmt.Errorf("writing the clipboard: %w", err)
		}
		return fmt.Errorf("%w: %s", ErrCopiedOnly, i.backend.Why)
	}
	if i.cfg.Mode == "paste" || !i.canType(text) {
		return i.paste(ctx, text)
	}
	return i.kb.Type(ctx, text)
}

// canType: a keyboard that cannot type every character of text (the portal's keysyms,
// limited to the active layout) has it pasted instead, where there is a clipboard.
func (i *Inserter) canType(text string) bool {
	c, ok := i.kb.(interface{ CanType(string) bool })
	return !ok || c.CanType(text) || i.clip == nil
}

// PasteChord returns the keys that paste into a window with the given WM_CLASS names: the
// chosen chord, or for auto Cmd+V on macOS, Ctrl+Shift+V in terminals, else Ctrl+V. Keys
// and modifiers are keysym names.
func (i *Inserter) PasteChord(classes ...string) (key string, mods []string) {
	switch i.cfg.PasteChord {
	case "ctrl+v":
		return "v", []string{"Control_L"}
	case "ctrl+shift+v":
		return "v", []string{"Control_L", "Shift_L"}
	case "shift+insert":
		return "Insert", []string{"Shift_L"}
	}
	if runtime.GOOS == "darwin" {
		return "v", []string{"Super_L"}
	}
	for _, c := range classes {
		if i.classes[strings.ToLower(c)] {
			return "v", []string{"Control_L", "Shift_L"}
		}
	}
	return "v", []string{"Control_L"}
}

func (i *Inserter) paste(ctx context.Context, text string) error {
	old, _ := i.clip.Read(ctx)
	if _, err := i.clip.Write(ctx, Content{Text: text}); err != nil {
		return fmt.Errorf("writing the clipboard: %w", err)
	}
	key, mods := i.PasteChord(focusedWindowClasses(i.backend.Name)...)
	if err := i.kb.Chord(ctx, key, mods...); err != nil {
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
		cur, err := i.clip.Read(bg)
		if err != nil || cur.Text != text || old.empty() {
			return
		}
		i.clip.Write(bg, old)
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

// Close waits for a pending restore and lets the keyboard and clipboard go.
func (i *Inserter) Close() error {
	i.Wait()
	var err error
	if i.kb != nil {
		err = i.kb.Close()
	}
	if c, ok := i.clip.(interface{ Close() error }); ok {
		err = errors.Join(err, c.Close())
	}
	return err
}

// Copy puts text on the session's clipboard; the channel closes when something else
// replaces it.
func Copy(ctx context.Context, text string) (<-chan struct{}, error) {
	clip, _, err := sharedClipboard()
	if err != nil {
		return nil, fmt.Errorf("clipboard unavailable: %w", err)
	}
	return clip.Write(ctx, Content{Text: text})
}
