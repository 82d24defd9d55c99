package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dictate-app/dictate/app"
)

// command is one command as the usage text, the man page and the completions describe it.
// Its flags are not listed here: they are read from the command itself (commandFlags), so
// none of the three can drift from what the command parses.
type command struct {
	name     string   // "models", "dev gen-model"
	synopsis []string // what follows "dictate ": the first line, then continuation lines
	summary  string
	words    []string // the first argument's choices (ctl press, models list, …)
	files    bool     // takes file arguments
	noFlags  bool     // parses no flags (and runs at once: not run to read them)
}

var commands = []command{
	{name: "transcribe", files: true, synopsis: []string{
		"transcribe FILE... [--model PATH] [--format txt|srt|vtt|json] [--output DIR]",
		"[--language L] [--translate] [--threads N] [--gpu|--no-gpu]"},
		summary: "transcribe audio and video files (anything ffmpeg reads) to text or subtitles"},
	{name: "gui", synopsis: []string{"gui [flags]"},
		summary: "the desktop window and tray (the same flags as listen)"},
	{name: "listen", synopsis: []string{
		"listen [--model PATH] [--hotkey SPEC] [--mode hold|toggle|auto] [--output type|paste]",
		"[--inserter auto|xtest|wayland|portal|clipboard]"},
		summary: "push-to-talk dictation into the focused window, without the GUI"},
	{name: "ctl", noFlags: true, synopsis: []string{"ctl press|release|toggle|cancel|status"}, words: []string{"press", "release", "toggle", "cancel", "status"},
		summary: "drive the running listen or gui (bind it to a key in a compositor that has no global hotkeys: Sway, Hyprland, a GNOME custom shortcut)"},
	{name: "history", synopsis: []string{"history [-n N] [--json] | history copy-last | history paste-last"}, words: []string{"copy-last", "paste-last"},
		summary: "past takes, newest last; copy or type the last one again"},
	{name: "models", synopsis: []string{"models [list|download NAME|import PATH|quantize NAME|remove NAME|default NAME] [--json]"},
		words: []string{"list", "download", "import", "quantize", "remove", "default"}, files: true,
		summary: "the model manager: catalog, verified downloads, local files"},
	{name: "devices", noFlags: true, synopsis: []string{"devices"},
		summary: "list compute devices (CPU, CUDA, Vulkan, Metal), microphones and what types the text in this session"},
	{name: "version", noFlags: true, synopsis: []string{"version"}, summary: "app, whisper.cpp and backend versions"},
	{name: "bench", synopsis: []string{"bench [--presets a,b] [--json] | bench --words | bench --live | bench --idle [listen flags]"},
		summary: "speed, memory, words and idle cost (see BENCHMARKS.md)"},
	{name: "completion", noFlags: true, synopsis: []string{"completion bash|zsh|fish"}, words: []string{"bash", "zsh", "fish"},
		summary: "print the shell completion script"},
	{name: "dev gen-model", files: true, synopsis: []string{"dev gen-model --arch NAME [--type f16|f32] [--seed N] [--say TEXT] OUT"},
		summary: "write a test model with random weights"},
	{name: "dev man", noFlags: true, synopsis: []string{"dev man"}, summary: "print the manual page dictate(1) in roff"},
}

// exitCodes are the exit statuses, for the manual.
var exitCodes = []struct {
	code int
	text string
}{
	{ExitOK, "success"},
	{ExitFailure, "the work failed (a file could not be transcribed, …)"},
	{ExitUsage, "bad command line"},
	{ExitBadInput, "an invalid model file or unreadable input"},
	{ExitAlreadyRunning, "listen or gui: another instance runs for this user (dictate ctl drives it)"},
	{ExitInterrupted, "interrupted (Ctrl-C, SIGTERM)"},
}

const synopsisIndent = "                             " // continuation lines of the usage text

func usage() string {
	var b strings.Builder
	b.WriteString("Dictate: local speech-to-text with Distil-Whisper.\n\nUsage:\n")
	for _, c := range commands {
		if strings.HasPrefix(c.name, "dev ") && c.name != "dev gen-model" {
			continue // developers' tools beyond the first are in the manual
		}
		fmt.Fprintf(&b, "  dictate %s\n", c.synopsis[0])
		for _, l := range c.synopsis[1:] {
			fmt.Fprintf(&b, "%s%s\n", synopsisIndent, l)
		}
		for _, l := range wrap(c.summary, 90-len(synopsisIndent)) {
			fmt.Fprintf(&b, "%s%s\n", synopsisIndent, l)
		}
	}
	b.WriteString("\n--model takes a file or an installed model's name; without it $DICTATE_MODEL, else the\n" +
		"default installed model. Run \"dictate COMMAND -h\" for a command's flags.\n")
	return b.String()
}

func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}

// flags returns the flags the command parses (commandFlags), nil for none.
func (c command) flags() *flag.FlagSet {
	if c.noFlags {
		return nil
	}
	return commandFlags(c.name)
}

// commandFlags returns the flags a command parses, read by running it with -h (every
// command with flags parses them before doing anything).
func commandFlags(name string) *flag.FlagSet {
	var got *flag.FlagSet
	d := &CLI{Stdout: io.Discard, Stderr: io.Discard, describing: true,
		GUI: func(context.Context, *app.Desktop) error { return nil },
		flagSink: func(fs *flag.FlagSet) {
			if got == nil {
				got = fs
			}
		}}
	d.Run(context.Background(), append(strings.Fields(name), "-h"))
	return got
}

// flagDoc is one flag as the manual and the completions show it.
type flagDoc struct {
	name, value, usage, def string // value: the argument's name, "" for a switch
	path                    bool   // takes a file or directory
}

func flagDocs(fs *flag.FlagSet) []flagDoc {
	if fs == nil {
		return nil
	}
	var out []flagDoc
	fs.VisitAll(func(f *flag.Flag) {
		value, usage := flag.UnquoteUsage(f)
		d := flagDoc{name: f.Name, value: value, usage: usage, def: f.DefValue}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			d.value = ""
		}
		// As flag.PrintDefaults: no zero values. Defaults that depend on who runs it (paths,
		// $DICTATE_MODEL) are described, not shown.
		switch d.def {
		case "", "0", "0s", "false", os.Getenv("DICTATE_MODEL"):
			d.def = ""
		}
		if filepath.IsAbs(d.def) {
			d.def = ""
		}
		d.path = slices.Contains([]string{"model", "history", "recordings", "cache", "audio", "catalog"}, f.Name) ||
			f.Name == "output" && strings.Contains(usage, "DIR")
		out = append(out, d)
	})
	return out
}

// manPage writes dictate(1) in roff.
func manPage(w io.Writer, version string, date time.Time) {
	esc := func(s string) string {
		s = strings.ReplaceAll(s, `\`, `\e`)
		s = strings.ReplaceAll(s, "-", `\-`)
		if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
			s = `\&` + s
		}
		var b strings.Builder // non-ASCII as groff's named code points: any groff reads them
		for _, r := range s {
			if r > 127 {
				fmt.Fprintf(&b, `\[u%04X]`, r)
			} else {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	fmt.Fprintf(w, ".TH DICTATE 1 %q %q \"User Commands\"\n", date.Format("2006-01-02"), "dictate "+version)
	fmt.Fprintln(w, ".ds AD l\n.ad l") // ragged right (AD: the man macros re-apply it at each paragraph)
	fmt.Fprintln(w, ".SH NAME\ndictate \\- local speech\\-to\\-text: hold a hotkey, speak, release, and the words are typed")
	fmt.Fprintln(w, ".SH SYNOPSIS")
	for _, c := range commands {
		fmt.Fprintf(w, ".B dictate\n%s\n.br\n", esc(strings.Join(c.synopsis, " ")))
	}
	fmt.Fprintln(w, ".SH DESCRIPTION")
	fmt.Fprintln(w, esc("Dictate recognises speech on this computer with Distil-Whisper models run by whisper.cpp "+
		"(on a GPU through Vulkan, CUDA or Metal where there is one, else on the CPU). Hold the hotkey, speak, "+
		"release: the words are typed into the window that has the focus. Without a command, started from "+
		"a desktop, it opens its window (dictate gui); dictate listen does the same without a window."))
	fmt.Fprintln(w, ".SH COMMANDS")
	for _, c := range commands {
		fmt.Fprintf(w, ".SS \"dictate %s\"\n%s\n", c.name, esc(c.summary))
		if len(c.words) > 0 {
			fmt.Fprintf(w, ".PP\nFirst argument: %s.\n", esc(strings.Join(c.words, ", ")))
		}
		for _, f := range flagDocs(c.flags()) {
			fmt.Fprintf(w, ".TP\n\\fB\\-\\-%s\\fR", esc(f.name))
			if f.value != "" {
				fmt.Fprintf(w, " \\fI%s\\fR", esc(f.value))
			}
			fmt.Fprintln(w)
			text := f.usage
			if f.def != "" {
				text += " (default " + f.def + ")"
			}
			fmt.Fprintln(w, esc(text))
		}
	}
	// A section of terms, each in the given font (B, I) with its text.
	terms := func(title, font string, items [][2]string) {
		fmt.Fprintln(w, ".SH "+title)
		for _, it := range items {
			fmt.Fprintf(w, ".TP\n.%s %s\n%s\n", font, it[0], it[1])
		}
	}
	terms("FILES", "I", [][2]string{
		{"~/.config/dictate/settings.toml", "the settings (the Settings screen writes it; flags override it for one run)"},
		{"~/.local/share/dictate/models/", "installed models"},
		{"~/.local/share/dictate/history.jsonl", "the history of takes, and recordings/ beside it"},
		{"/usr/lib/systemd/user/dictate.service", "runs dictate listen in the user's graphical session: systemctl \\-\\-user enable \\-\\-now dictate"},
	})
	terms("ENVIRONMENT", "B", [][2]string{
		{"DICTATE_MODEL", "the model when \\-\\-model is not given"},
		{"DICTATE_SETTINGS", "another settings file"},
		{"DICTATE_LOG", "debug: log what the app does to standard error"},
		{"XDG_CONFIG_HOME, XDG_DATA_HOME, XDG_CACHE_HOME", "move the files above"},
	})
	fmt.Fprintln(w, ".SH EXIT STATUS")
	for _, e := range exitCodes {
		fmt.Fprintf(w, ".TP\n.B %d\n%s\n", e.code, esc(e.text))
	}
	fmt.Fprintln(w, ".SH SEE ALSO\n.BR whisper\\-cli (1)\n.PP\nhttps://github.com/dictate\\-app/dictate")
}
