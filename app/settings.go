package app

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/adrg/xdg"

	"github.com/dictate-app/dictate/app/hotkey"
	"github.com/dictate-app/dictate/app/textout"
	"github.com/dictate-app/dictate/engine"
	"github.com/dictate-app/dictate/internal/atomicfile"
)

// Settings are what the user chooses in the Settings screen, persisted as TOML. The model
// is not here: the model manager keeps the default model.
type Settings struct {
	Hotkey          string        `toml:"hotkey"`
	Mode            string        `toml:"mode"`   // hold, toggle, auto
	Device          string        `toml:"device"` // microphone name; "" is the system default
	Language        string        `toml:"language"`
	Translate       bool          `toml:"translate"`
	Output          string        `toml:"output"`      // type or paste
	Inserter        string        `toml:"inserter"`    // what types: auto, xtest, wayland, portal, clipboard
	PasteChord      string        `toml:"paste_chord"` // see textout.PasteChords
	TerminalClasses []string      `toml:"terminal_classes"`
	Prompt          string        `toml:"prompt"` // names and words to expect
	Replacements    []Replacement `toml:"replacements"`
	TailMS          int           `toml:"tail_ms"`
	InstantStart    bool          `toml:"instant_start"`
	Sounds          bool          `toml:"sounds"`
	StartMinimised  bool          `toml:"start_minimised"`
	LaunchAtLogin   bool          `toml:"launch_at_login"`
	GPU             bool          `toml:"gpu"`
	Threads         int           `toml:"threads"` // 0: physical cores
	// TrimAudioCtx encodes only as much of Whisper's 30 s window as a short take needs,
	// never less than AudioCtxFloorS seconds.
	TrimAudioCtx   bool    `toml:"trim_audio_ctx"`
	AudioCtxFloorS float64 `toml:"audio_ctx_floor_s"`
	// LiveCommit transcribes while the key is held, committing words as passes agree, so
	// the text shows live and the wait after release stays short however long the take.
	LiveCommit bool `toml:"live_commit"`
	// LivePrompt gives each live pass the text committed before it, for continuity (as
	// whisper_streaming does). A model that then repeats or skips words does better
	// without: the small test models here lose 23 % more words with it.
	LivePrompt bool `toml:"live_prompt"`
	// Overlay shows a small panel at the bottom of the screen while a take runs: level,
	// length and live text. It never takes focus.
	Overlay bool `toml:"overlay"`
	// LiveType types words as they commit instead of all at release. Words typed are never
	// taken back. While the hotkey is held they wait for release where keys typed would
	// not arrive as typed (hotkey.Spec.BlocksTypingWhileHeld: a modifier in it, an X11
	// grab); a take started in toggle mode or from the tray types them as they come.
	LiveType bool `toml:"live_type"`
}

// DefaultHotkey is what dictation grabs unless told otherwise.
const DefaultHotkey = "ctrl+shift+space"

// DefaultSettings is what a first start uses.
func DefaultSettings() Settings {
	return Settings{
		Hotkey: DefaultHotkey, Mode: "hold", Language: "auto", Output: "type", Inserter: "auto", PasteChord: "auto",
		TerminalClasses: slices.Clone(textout.DefaultTerminalClasses),
		TailMS:          300, InstantStart: true, Sounds: true, GPU: true,
		TrimAudioCtx: true, AudioCtxFloorS: 10, LiveCommit: true, LivePrompt: true, Overlay: true,
	}
}

// DefaultSettingsPath is $XDG_CONFIG_HOME/dictate/settings.toml.
func DefaultSettingsPath() string { return filepath.Join(xdg.ConfigHome, "dictate", "settings.toml") }

// FieldError says why one setting is refused.
type FieldError struct {
	Field  string // the TOML key
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Each validator checks one field the way the Settings form and the file loader both need.
// reset puts the default back where a loaded file was refused.
var settingValidators = []struct {
	field string
	check func(Settings) error
	reset func(s *Settings, d Settings)
}{
	{"hotkey", func(s Settings) error { return ValidateHotkey(s.Hotkey) }, func(s *Settings, d Settings) { s.Hotkey = d.Hotkey }},
	{"mode", func(s Settings) error { _, err := ParseMode(s.Mode); return err }, func(s *Settings, d Settings) { s.Mode = d.Mode }},
	{"language", func(s Settings) error { return ValidateLanguage(s.Language) }, func(s *Settings, d Settings) { s.Language = d.Language }},
	{"output", func(s Settings) error {
		if s.Output != "type" && s.Output != "paste" {
			return fmt.Errorf("%q is not an output mode (want type or paste)", s.Output)
		}
		return nil
	}, func(s *Settings, d Settings) { s.Output = d.Output }},
	{"inserter", func(s Settings) error {
		if !slices.Contains(textout.Backends, s.Inserter) {
			return fmt.Errorf("%q is not a text output (want one of %s)", s.Inserter, strings.Join(textout.Backends, ", "))
		}
		return nil
	}, func(s *Settings, d Settings) { s.Inserter = d.Inserter }},
	{"paste_chord", func(s Settings) error {
		if !slices.Contains(textout.PasteChords, s.PasteChord) {
			return fmt.Errorf("%q is not a paste chord (want one of %s)", s.PasteChord, strings.Join(textout.PasteChords, ", "))
		}
		return nil
	}, func(s *Settings, d Settings) { s.PasteChord = d.PasteChord }},
	{"terminal_classes", func(s Settings) error { return ValidateTerminalClasses(s.TerminalClasses) }, func(s *Settings, d Settings) { s.TerminalClasses = d.TerminalClasses }},
	{"prompt", func(s Settings) error { return ValidatePrompt(s.Prompt) }, func(s *Settings, d Settings) { s.Prompt = d.Prompt }},
	{"replacements", func(s Settings) error { return ValidateReplacements(s.Replacements) }, func(s *Settings, d Settings) { s.Replacements = d.Replacements }},
	{"tail_ms", func(s Settings) error {
		if s.TailMS < 0 || s.TailMS > 5000 {
			return fmt.Errorf("%d ms is out of range (0 to 5000)", s.TailMS)
		}
		return nil
	}, func(s *Settings, d Settings) { s.TailMS = d.TailMS }},
	{"threads", func(s Settings) error {
		if s.Threads < 0 || s.Threads > 256 {
			return fmt.Errorf("%d is out of range (0 for automatic, up to 256)", s.Threads)
		}
		return nil
	}, func(s *Settings, d Settings) { s.Threads = d.Threads }},
	{"audio_ctx_floor_s", func(s Settings) error {
		if s.AudioCtxFloorS < 1 || s.AudioCtxFloorS > 30 {
			return fmt.Errorf("%g s is out of range (1 to 30)", s.AudioCtxFloorS)
		}
		return nil
	}, func(s *Settings, d Settings) { s.AudioCtxFloorS = d.AudioCtxFloorS }},
}

// Validate returns one *FieldError per refused field (joined), or nil.
func (s Settings) Validate() error {
	var errs []error
	for _, v := range settingValidators {
		if err := v.check(s); err != nil {
			errs = append(errs, &FieldError{Field: v.field, Reason: err.Error()})
		}
	}
	return errors.Join(errs...)
}

// ValidateHotkey refuses what hotkey.Parse cannot grab.
func ValidateHotkey(spec string) error {
	_, err := hotkey.Parse(spec)
	return err
}

// ValidateLanguage accepts "auto" and the languages Whisper knows.
func ValidateLanguage(lang string) error {
	if lang == "auto" || slices.Contains(engine.Languages, lang) {
		return nil
	}
	return fmt.Errorf("%q is not a language Whisper knows (use a code such as en, de, fr, or auto)", lang)
}

// ValidateTerminalClasses wants window class names: non-empty, no spaces.
func ValidateTerminalClasses(classes []string) error {
	for _, c := range classes {
		if c == "" || strings.ContainsAny(c, " \t\n,") {
			return fmt.Errorf("%q is not a window class name (one word per class)", c)
		}
	}
	return nil
}

// maxPromptRunes keeps the prompt inside Whisper's 224-token prompt budget (a token is
// at least one character, so this is a safe bound that still allows a long word list).
const maxPromptRunes = 800

// ValidatePrompt bounds the initial prompt.
func ValidatePrompt(p string) error {
	if n := len([]rune(p)); n > maxPromptRunes {
		return fmt.Errorf("%d characters is too long (Whisper reads at most about %d)", n, maxPromptRunes)
	}
	return nil
}

// ValidateReplacements wants each spoken phrase once and non-empty.
func ValidateReplacements(rules []Replacement) error {
	seen := map[string]bool{}
	for i, r := range rules {
		from := strings.ToLower(strings.TrimSpace(r.From))
		if from == "" {
			return fmt.Errorf("rule %d has no spoken words to replace", i+1)
		}
		if seen[from] {
			return fmt.Errorf("%q is replaced twice", r.From)
		}
		seen[from] = true
	}
	return nil
}

// LoadSettings reads the settings file. A missing file gives the defaults. A file that
// cannot be parsed, or holds refused values, is copied aside (nothing the user wrote is
// lost) and the defaults stand in for what was wrong; notice then says so.
func LoadSettings(path string) (s Settings, notice string, err error) {
	s = DefaultSettings()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, "", nil
	}
	if err != nil {
		return s, "", fmt.Errorf("settings: %w", err)
	}
	var parsed Settings = DefaultSettings()
	if _, perr := toml.Decode(string(data), &parsed); perr != nil {
		backup, berr := backupSettings(path, data)
		if berr != nil {
			return s, "", fmt.Errorf("settings file %s is unreadable (%v) and could not be backed up: %w", path, perr, berr)
		}
		return s, fmt.Sprintf("The settings file could not be read (%v). It was saved as %s; the defaults are in use.", firstLine(perr.Error()), backup), nil
	}
	verr := parsed.Validate()
	if verr == nil {
		return parsed, "", nil
	}
	// Keep what is valid; put the defaults back only where the file was refused.
	def := DefaultSettings()
	var fields []string
	for _, v := range settingValidators {
		if v.check(parsed) != nil {
			v.reset(&parsed, def)
			fields = append(fields, v.field)
		}
	}
	backup, berr := backupSettings(path, data)
	if berr != nil {
		return s, "", fmt.Errorf("settings file %s has refused values (%v) and could not be backed up: %w", path, verr, berr)
	}
	return parsed, fmt.Sprintf("Some settings were refused and reset to their defaults (%s): %s. The file was saved as %s.",
		strings.Join(fields, ", "), strings.ReplaceAll(verr.Error(), "\n", "; "), backup), nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// backupSettings copies a refused file next to itself with a timestamp.
func backupSettings(path string, data []byte) (string, error) {
	backup := fmt.Sprintf("%s.bad-%s", path, time.Now().Format("20060102-150405"))
	return backup, atomicfile.WriteBytes(backup, 0o600, data)
}

// SaveSettings validates and writes the file atomically (readable only by the user).
func SaveSettings(path string, s Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.WriteString("# Dictate settings: edit here or in the app's Settings screen.\n")
	if err := toml.NewEncoder(&buf).Encode(s); err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, 0o600, buf.Bytes())
}

// SessionConfig turns settings into what a session is made of (the model path and the
// file locations come from elsewhere).
func (s Settings) SessionConfig(modelPath string) (SessionConfig, error) {
	if err := s.Validate(); err != nil {
		return SessionConfig{}, err
	}
	spec, _ := hotkey.Parse(s.Hotkey)
	mode, _ := ParseMode(s.Mode)
	floor := 0
	if s.TrimAudioCtx {
		floor = int(s.AudioCtxFloorS * 1000)
	}
	return SessionConfig{
		ModelPath: modelPath, Hotkey: spec, Mode: mode, Output: s.Output, Inserter: s.Inserter, PasteChord: s.PasteChord,
		TerminalClasses: s.TerminalClasses, Device: s.Device, Tail: time.Duration(s.TailMS) * time.Millisecond,
		InstantStart: s.InstantStart, GPU: s.GPU, Sounds: s.Sounds, LiveCommit: s.LiveCommit, LivePrompt: s.LivePrompt, LiveType: s.LiveType,
		Replacements: append(slices.Clone(DefaultReplacements), s.Replacements...),
		Engine: engine.Options{Language: s.Language, Translate: s.Translate, Threads: s.Threads, InitialPrompt: s.Prompt,
			AudioCtxFloorMS: floor},
	}, nil
}

// SettingsPath is where the settings live: $DICTATE_SETTINGS, else DefaultSettingsPath.
func SettingsPath() string {
	if p := os.Getenv("DICTATE_SETTINGS"); p != "" {
		return p
	}
	return DefaultSettingsPath()
}
