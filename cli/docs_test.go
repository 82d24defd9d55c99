package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dictate-app/dictate/app"
	"github.com/dictate-app/dictate/internal/testenv"
)

// Every command of the table runs (its -h is no "unknown command"), is in the usage text,
// and has its flags read from itself.
func TestCommandsAreDescribed(t *testing.T) {
	withFlags := map[string]bool{"transcribe": true, "gui": true, "listen": true, "history": true, "models": true, "bench": true, "dev gen-model": true}
	code, help, _ := runCLI(t, "help")
	if code != ExitOK {
		t.Fatalf("help: exit %d", code)
	}
	for _, c := range commands {
		if !c.noFlags {
			var stderr bytes.Buffer
			withGUI := &CLI{Stdout: io.Discard, Stderr: &stderr, GUI: func(context.Context, *app.Desktop) error { return nil }}
			withGUI.Run(context.Background(), append(strings.Fields(c.name), "-h"))
			if !strings.Contains(stderr.String(), "Usage: dictate "+c.name) {
				t.Errorf("%s -h: %s", c.name, stderr.String())
			}
		}
		if !strings.Contains(help, "dictate "+c.synopsis[0]) && c.name != "dev man" {
			t.Errorf("usage text lacks %q", c.synopsis[0])
		}
		if fs := c.flags(); (fs != nil) != withFlags[c.name] {
			t.Errorf("%s: flags read %v, want %v", c.name, fs != nil, withFlags[c.name])
		}
	}
	// Defaults are the app's, not the settings of whoever builds the manual.
	for _, f := range flagDocs(commandFlags("listen")) {
		if f.name == "hotkey" && f.def != "ctrl+shift+space" {
			t.Errorf("listen --hotkey default %q", f.def)
		}
	}
}

// The manual has every command and every flag each parses, and groff reads it without a
// warning.
func TestManPage(t *testing.T) {
	var b bytes.Buffer
	manPage(&b, "1.2.3", time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC))
	man := b.String()
	if !strings.HasPrefix(man, `.TH DICTATE 1 "2026-12-02" "dictate 1.2.3"`) {
		t.Errorf("header %.60q", man)
	}
	for _, c := range commands {
		if !strings.Contains(man, `.SS "dictate `+c.name+`"`) {
			t.Errorf("no section for %s", c.name)
		}
		for _, f := range flagDocs(c.flags()) {
			if !strings.Contains(man, `\fB\-\-`+strings.ReplaceAll(f.name, "-", `\-`)+`\fR`) {
				t.Errorf("%s: no --%s", c.name, f.name)
			}
		}
	}
	for _, e := range exitCodes {
		if !strings.Contains(man, ".B "+strconv.Itoa(e.code)+"\n") {
			t.Errorf("exit status %d missing", e.code)
		}
	}
	cmd := exec.Command(testenv.Tool(t, "groff"), "-man", "-ww", "-z", "-Tutf8")
	cmd.Stdin = strings.NewReader(man)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("groff: %v\n%s", err, out)
	}
	// dictate dev man prints it, dated by SOURCE_DATE_EPOCH where set.
	t.Setenv("SOURCE_DATE_EPOCH", "1764633600") // 2025-12-02
	if code, out, _ := runCLI(t, "dev", "man"); code != ExitOK || !strings.HasPrefix(out, `.TH DICTATE 1 "2025-12-02"`) {
		t.Errorf("dev man: exit %d, %.50q", code, out)
	}
}

// completionCases: the command line so far, and completions that must be offered (or,
// with none, that nothing is).
var completionCases = []struct {
	line string
	want []string
}{
	{"dictate tr", []string{"transcribe"}},
	{"dictate ", []string{"transcribe", "listen", "gui", "completion", "models", "dev"}},
	{"dictate transcribe --mo", []string{"--model"}},
	{"dictate transcribe a.wav --for", []string{"--format"}},
	{"dictate listen --live", []string{"--live", "--live-prompt", "--live-type"}},
	{"dictate ctl to", []string{"toggle"}},
	{"dictate models dow", []string{"download"}},
	{"dictate history copy", []string{"copy-last"}},
	{"dictate completion f", []string{"fish"}},
	{"dictate dev gen", []string{"gen-model"}},
	{"dictate dev gen-model --ar", []string{"--arch"}},
	{"dictate gui --hot", []string{"--hotkey", "--hotkey-backend"}},
}

func writeCompletion(t *testing.T, shell string) string {
	t.Helper()
	code, out, stderr := runCLI(t, "completion", shell)
	if code != ExitOK {
		t.Fatalf("completion %s: exit %d: %s", shell, code, stderr)
	}
	p := filepath.Join(t.TempDir(), "dictate."+shell)
	if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkOffered(t *testing.T, line string, got, want []string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("%q: offered %q, want %q among them", line, got, w)
		}
	}
}

// Bash's completion, run by bash as it completes a command line.
func TestBashCompletion(t *testing.T) {
	script := writeCompletion(t, "bash")
	bash := testenv.Tool(t, "bash")
	for _, c := range completionCases {
		words := strings.Split(c.line, " ")
		prog := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _dictate; printf '%s\n' "${COMPREPLY[@]}"`
		out, err := exec.Command(bash, append([]string{"-c", prog, "bash", script}, words...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", c.line, err, out)
		}
		checkOffered(t, c.line, strings.Fields(string(out)), c.want)
	}
	// A flag's value is not a flag: nothing offered after --format.
	out, _ := exec.Command(bash, "-c", `source "$1"; COMP_WORDS=(dictate transcribe --format ""); COMP_CWORD=3; _dictate; echo "${#COMPREPLY[@]}"`, "bash", script).Output()
	if strings.TrimSpace(string(out)) != "0" {
		t.Errorf("after --format: %s offered", out)
	}
}

// Fish's completion, asked with complete -C as fish does on Tab.
func TestFishCompletion(t *testing.T) {
	script := writeCompletion(t, "fish")
	fish := testenv.Tool(t, "fish")
	for _, c := range completionCases {
		out, err := exec.Command(fish, "--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, script, c.line).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", c.line, err, out)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			got = append(got, strings.SplitN(l, "\t", 2)[0])
		}
		checkOffered(t, c.line, got, c.want)
	}
}

// Zsh's completion: zsh parses it, and its dispatch hands _arguments (stubbed here to
// print its specs, as the completion system is interactive) the right command's specs.
func TestZshCompletion(t *testing.T) {
	script := writeCompletion(t, "zsh")
	zsh := testenv.Tool(t, "zsh")
	if out, err := exec.Command(zsh, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
	prog := `_arguments() { print -rl -- "$@" }; _describe() { print -rl -- ${(P)${@[-1]}} }; _files() {}
words=("${@[2,-1]}"); CURRENT=$#words; source "$1"`
	for _, c := range []struct {
		line string
		want []string
	}{
		{"dictate tr", []string{"transcribe:"}},
		{"dictate transcribe --mo", []string{"--model=[", "*:file:_files"}},
		{"dictate ctl t", []string{"1:argument:(press release toggle cancel status)"}},
		{"dictate dev gen-model --a", []string{"--arch=["}},
		{"dictate listen --l", []string{"--live-type["}},
	} {
		out, err := exec.Command(zsh, append([]string{"-f", "-c", prog, "zsh", script}, strings.Split(c.line, " ")...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", c.line, err, out)
		}
		for _, w := range c.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("%q: zsh got\n%s\nwant %q in it", c.line, out, w)
			}
		}
	}
}
