package app

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSettingsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "settings.toml")
	s, notice, err := LoadSettings(path)
	if err != nil || notice != "" || !reflect.DeepEqual(s, DefaultSettings()) {
		t.Fatalf("missing file: %+v %q %v; want the defaults", s, notice, err)
	}
	s.Hotkey, s.Mode, s.Language, s.Translate = "super+alt+d", "toggle", "de", true
	s.Output, s.PasteChord, s.TerminalClasses = "paste", "shift+insert", []string{"kitty", "xterm"}
	s.Prompt = "Kubernetes, Grafana, Dictate"
	s.Replacements = []Replacement{{From: "full stop", To: "."}, {From: "smiley", To: "🙂"}}
	s.TailMS, s.Sounds, s.StartMinimised, s.GPU, s.Threads = 150, false, true, false, 3
	s.TrimAudioCtx, s.AudioCtxFloorS = false, 12.5
	if err := SaveSettings(path, s); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("settings file mode %v, %v; want 0600", st.Mode(), err)
	}
	back, notice, err := LoadSettings(path)
	if err != nil || notice != "" {
		t.Fatal(notice, err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, s)
	}
	cfg, err := back.SessionConfig("m.bin")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Engine.Language != "de" || !cfg.Engine.Translate || cfg.Engine.AudioCtxFloorMS != 0 || cfg.Tail.Milliseconds() != 150 ||
		len(cfg.Replacements) != len(DefaultReplacements)+2 || cfg.PasteChord != "shift+insert" || cfg.Mode != ModeToggle {
		t.Errorf("session config from settings: %+v", cfg)
	}
}

// A file with only some keys keeps the defaults for the rest.
func TestSettingsPartialFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "settings.toml")
	os.WriteFile(path, []byte("mode = \"auto\"\n"), 0o600)
	s, notice, err := LoadSettings(path)
	want := DefaultSettings()
	want.Mode = "auto"
	if err != nil || notice != "" || !reflect.DeepEqual(s, want) {
		t.Errorf("got %+v %q %v", s, notice, err)
	}
}

var badSettings = []struct {
	name, file string
	field      string // refused field; "" when the file does not parse
	keep       func(Settings) bool
}{
	{"not toml", "hotkey = \"ctrl+space\nmode = [", "", nil},
	{"binary", "\x00\x01\x02\xff", "", nil},
	{"wrong type", "tail_ms = \"long\"\n", "", nil},
	{"bad hotkey", "hotkey = \"ctrl+nosuchkey\"\nmode = \"toggle\"\n", "hotkey", func(s Settings) bool { return s.Mode == "toggle" }},
	{"bad mode", "mode = \"sometimes\"\nlanguage = \"fr\"\n", "mode", func(s Settings) bool { return s.Language == "fr" }},
	{"bad language", "language = \"klingon\"\n", "language", nil},
	{"bad output", "output = \"telepathy\"\n", "output", nil},
	{"bad chord", "paste_chord = \"ctrl+alt+del\"\n", "paste_chord", nil},
	{"bad class", "terminal_classes = [\"two words\"]\n", "terminal_classes", nil},
	{"long prompt", "prompt = \"" + strings.Repeat("word ", 200) + "\"\n", "prompt", nil},
	{"empty replacement", "[[replacements]]\nfrom = \"\"\nto = \"x\"\n", "replacements", nil},
	{"twice replaced", "[[replacements]]\nfrom = \"a\"\nto = \"x\"\n[[replacements]]\nfrom = \"A\"\nto = \"y\"\n", "replacements", nil},
	{"negative tail", "tail_ms = -5\nsounds = false\n", "tail_ms", func(s Settings) bool { return !s.Sounds }},
	{"huge tail", "tail_ms = 60000\n", "tail_ms", nil},
	{"threads", "threads = -1\n", "threads", nil},
	{"floor", "audio_ctx_floor_s = 0.1\n", "audio_ctx_floor_s", nil},
}

// A corrupt or refused file is backed up byte for byte and the app goes on with defaults
// where it was wrong, saying so.
func TestSettingsCorruptFileRecovery(t *testing.T) {
	for _, tc := range badSettings {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "settings.toml")
			os.WriteFile(path, []byte(tc.file), 0o600)
			s, notice, err := LoadSettings(path)
			if err != nil {
				t.Fatal(err)
			}
			if notice == "" {
				t.Fatal("no notice for a refused file")
			}
			if err := s.Validate(); err != nil {
				t.Fatalf("loaded settings are invalid: %v", err)
			}
			backups, _ := filepath.Glob(path + ".bad-*")
			if len(backups) != 1 || !strings.Contains(notice, backups[0]) {
				t.Fatalf("backups %v; notice %q", backups, notice)
			}
			if b, _ := os.ReadFile(backups[0]); string(b) != tc.file {
				t.Error("the backup differs from the refused file")
			}
			if tc.field != "" && !strings.Contains(notice, tc.field) {
				t.Errorf("notice %q does not name %s", notice, tc.field)
			}
			if tc.keep != nil && !tc.keep(s) {
				t.Errorf("valid values were not kept: %+v", s)
			}
		})
	}
}

func TestValidateNamesEachField(t *testing.T) {
	s := DefaultSettings()
	s.Hotkey, s.TailMS = "", 99999
	err := s.Validate()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("%v is not a FieldError", err)
	}
	for _, f := range []string{"hotkey:", "tail_ms:"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("%q does not name %s", err, f)
		}
	}
	if err := SaveSettings(filepath.Join(t.TempDir(), "s.toml"), s); err == nil {
		t.Error("invalid settings were saved")
	}
}

func FuzzLoadSettings(f *testing.F) {
	for _, tc := range badSettings {
		f.Add(tc.file)
	}
	f.Add("hotkey = \"F9\"\nmode = \"auto\"\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, file string) {
		path := filepath.Join(dir, "settings.toml")
		os.WriteFile(path, []byte(file), 0o600)
		s, _, err := LoadSettings(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("LoadSettings returned invalid settings: %v", err)
		}
		backups, _ := filepath.Glob(path + ".bad-*")
		for _, b := range backups {
			os.Remove(b)
		}
	})
}
