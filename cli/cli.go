// Package cli is Dictate's command line: transcribe, listen, gui, history, models, devices,
// version, bench and dev. It parses flags and prints; the flows it runs live in app/.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dictate-app/dictate/app"
	"github.com/dictate-app/dictate/app/models"
	"github.com/dictate-app/dictate/app/textout"
	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/engine"
	"github.com/dictate-app/dictate/internal/atomicfile"
)

// Version is the app's version; release builds set it with -ldflags -X.
var Version = "0.1.0-dev"

// Exit codes.
const (
	ExitOK       = 0
	ExitFailure  = 1 // the work failed (a file could not be transcribed, …)
	ExitUsage    = 2 // bad command line
	ExitBadInput = 3 // invalid model file or unreadable input
	// ExitAlreadyRunning: listen or gui found another instance of this user's (the
	// systemd unit's SuccessExitStatus, so a second start is no failure).
	ExitAlreadyRunning = 4
	ExitInterrupted    = 130
)

// CLI runs the command line.
type CLI struct {
	Stdin          io.Reader // answers to prompts (first run); nil: never prompt
	Stdout, Stderr io.Writer
	// IsTerminal reports whether Stderr is a terminal (progress bars only then).
	IsTerminal bool
	// Interactive: Stdin and Stderr are a terminal, so questions can be asked.
	Interactive bool
	// GUI runs the desktop window for a session (nil in builds without one).
	GUI func(ctx context.Context, d *app.Desktop) error

	log *slog.Logger
	// describing: the command is run with -h only to read its flags (commandFlags), each
	// flag set going to flagSink; settings are the defaults, not the user's.
	describing bool
	flagSink   func(*flag.FlagSet)
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// noModelError: nothing installed and nothing named (the GUI then offers the download).
type noModelError struct {
	usageError
	recommended string
}

func (e noModelError) Unwrap() error { return e.usageError }

// Run executes args (without the program name) and returns the exit code.
func (c *CLI) Run(ctx context.Context, args []string) int {
	level := slog.LevelWarn
	if os.Getenv("DICTATE_LOG") == "debug" {
		level = slog.LevelDebug
	}
	c.log = slog.New(slog.NewTextHandler(c.Stderr, &slog.HandlerOptions{Level: level}))
	engine.SetLogger(c.log)

	if len(args) == 0 {
		if c.GUI != nil && (os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != "") {
			args = []string{"gui"} // started from the desktop
		} else {
			fmt.Fprint(c.Stdout, usage())
			return ExitOK
		}
	}
	var err error
	switch args[0] {
	case "transcribe":
		err = c.transcribe(ctx, args[1:])
	case "listen":
		err = c.listen(ctx, args[1:])
	case "gui":
		err = c.gui(ctx, args[1:])
	case "history":
		err = c.history(ctx, args[1:])
	case "models":
		err = c.modelsCmd(ctx, args[1:])
	case "ctl":
		err = c.ctl(args[1:])
	case "devices":
		err = c.devices()
	case "version", "--version":
		err = c.version()
	case "dev":
		err = c.dev(args[1:])
	case "bench":
		err = c.bench(ctx, args[1:])
	case "completion":
		err = c.completion(args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(c.Stdout, usage())
		return ExitOK
	default:
		err = usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
	return c.exitCode(ctx, err)
}

func (c *CLI) exitCode(ctx context.Context, err error) int {
	var ue usageError
	var me *engine.ModelError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		fmt.Fprintln(c.Stderr, "dictate: interrupted")
		return ExitInterrupted
	case errors.Is(err, app.ErrAlreadyRunning):
		fmt.Fprintf(c.Stderr, "dictate: %v\n", oneLine(err))
		return ExitAlreadyRunning
	case errors.As(err, &ue):
		fmt.Fprintf(c.Stderr, "dictate: %v\nRun \"dictate help\" for usage.\n", err)
		return ExitUsage
	case errors.As(err, &me), errors.Is(err, models.ErrVerify), errors.Is(err, models.ErrNotInstalled), errors.Is(err, models.ErrNoDefault), errors.Is(err, audio.ErrUnsupportedFormat), errors.Is(err, audio.ErrCorrupt), errors.Is(err, os.ErrNotExist):
		fmt.Fprintf(c.Stderr, "dictate: %v\n", oneLine(err))
		return ExitBadInput
	case errors.Is(err, errFilesFailed):
		return ExitFailure
	}
	fmt.Fprintf(c.Stderr, "dictate: %v\n", oneLine(err))
	return ExitFailure
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// parseInterspersed lets flags follow positional arguments ("transcribe a.wav --model m").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional, afterDashes []string
	if i := slices.Index(args, "--"); i >= 0 { // everything after -- is positional
		args, afterDashes = args[:i], args[i+1:]
	}
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(positional, afterDashes...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func (c *CLI) newFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.Stderr, "Usage: dictate %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	if c.flagSink != nil {
		c.flagSink(fs)
	}
	return fs
}

var errFilesFailed = errors.New("some files failed")

func (c *CLI) transcribe(ctx context.Context, args []string) error {
	fs := c.newFlagSet("transcribe", "transcribe FILE... [flags]")
	modelSpec := fs.String("model", os.Getenv("DICTATE_MODEL"), "model file or installed model name; default $DICTATE_MODEL, else the default model")
	format := fs.String("format", "txt", "output format: txt, srt, vtt or json")
	outDir := fs.String("output", "", "write FILE's transcript to DIR/NAME.FORMAT instead of stdout")
	language := fs.String("language", "auto", "spoken language (ISO code such as en, de) or auto")
	translate := fs.Bool("translate", false, "translate into English (multilingual models)")
	threads := fs.Int("threads", 0, "CPU threads (0: one per physical core, at most 8)")
	useGPU := fs.Bool("gpu", true, "use a GPU when one is present")
	noGPU := fs.Bool("no-gpu", false, "run on the CPU only")
	gpuDevice := fs.Int("gpu-device", engine.AutoGPU, "which GPU to use, counting GPUs from 0 (-1: the first discrete one, else an integrated one)")
	flashAttn := fs.Bool("flash-attn", true, "flash attention (faster where the backend supports it)")
	maxTokens := fs.Int("max-tokens", 0, "most tokens per 30 s window (0: no limit)")
	beam := fs.Int("beam", 1, "beam size (1: greedy)")
	prompt := fs.String("prompt", "", "initial prompt: names and words to expect")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(files) == 0:
		return usageError{"transcribe needs at least one audio file"}
	case !slices.Contains(app.Formats, *format):
		return usageError{fmt.Sprintf("unknown format %q (want txt, srt, vtt or json)", *format)}
	case *outDir == "" && len(files) > 1 && *format != "txt":
		return usageError{"several files in " + *format + " need --output DIR"}
	case *threads < 0 || *beam < 1 || *maxTokens < 0:
		return usageError{"--threads, --beam and --max-tokens must not be negative (beam ≥ 1)"}
	}
	if *outDir != "" {
		if err := os.MkdirAll(*outDir, 0o755); err != nil {
			return err
		}
	}

	modelPath, err := c.resolveModel(ctx, *modelSpec, *language)
	if err != nil {
		return err
	}
	model, err := engine.Load(modelPath, engine.LoadOptions{GPU: *useGPU && !*noGPU, GPUDevice: *gpuDevice, FlashAttention: *flashAttn})
	if err != nil {
		return err
	}
	defer model.Close()
	if !*quiet {
		fmt.Fprintf(c.Stderr, "model %s (%s) on %s\n", filepath.Base(modelPath), model.Info().Describe(), model.Device())
	}
	opts := engine.Options{Language: *language, Translate: *translate, Threads: *threads,
		MaxTokens: *maxTokens, BeamSize: *beam, InitialPrompt: *prompt}

	failed := 0
	for _, file := range files {
		var bar *progressBar
		if !*quiet && c.IsTerminal {
			bar = &progressBar{w: c.Stderr, name: filepath.Base(file)}
		}
		var onProgress func(app.FileProgress)
		if bar != nil {
			onProgress = bar.update
		}
		tr, err := app.TranscribeFile(ctx, model, file, opts, onProgress)
		bar.finish()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var me *engine.ModelError
			if errors.Is(err, engine.ErrLanguage) || errors.As(err, &me) {
				return err // the same for every file
			}
			if len(files) == 1 {
				return fmt.Errorf("%s: %w", file, err)
			}
			fmt.Fprintf(c.Stderr, "dictate: %s: %v\n", file, oneLine(err))
			failed++
			continue
		}
		tr.Model = filepath.Base(modelPath)
		if err := c.writeOutput(tr, *format, *outDir, len(files) > 1); err != nil {
			fmt.Fprintf(c.Stderr, "dictate: %s: %v\n", file, err)
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(c.Stderr, "dictate: %d of %d files failed\n", failed, len(files))
		return errFilesFailed
	}
	return nil
}

func (c *CLI) writeOutput(tr app.Transcript, format, outDir string, several bool) error {
	if outDir == "" {
		if several {
			fmt.Fprintf(c.Stdout, "==> %s <==\n", tr.File)
		}
		return app.WriteTranscript(c.Stdout, format, tr)
	}
	name := strings.TrimSuffix(filepath.Base(tr.File), filepath.Ext(tr.File)) + "." + format
	return atomicfile.Write(filepath.Join(outDir, name), 0o644, func(w io.Writer) error { return app.WriteTranscript(w, format, tr) })
}

func (c *CLI) devices() error {
	fmt.Fprintln(c.Stdout, "Compute devices:")
	for _, d := range engine.Devices() {
		mem := ""
		if d.TotalMemory > 0 {
			mem = fmt.Sprintf("  %.1f/%.1f GiB free", float64(d.FreeMemory)/(1<<30), float64(d.TotalMemory)/(1<<30))
		}
		fmt.Fprintf(c.Stdout, "  %d  %-5s %-10s %s%s\n", d.Index, d.Kind, d.Name, d.Description, mem)
	}
	fmt.Fprintln(c.Stdout, "Text output:")
	set, _, _ := app.LoadSettings(app.SettingsPath())
	fmt.Fprintf(c.Stdout, "  %s\n", textout.Detect(set.Inserter))
	fmt.Fprintln(c.Stdout, "Microphones:")
	inputs, err := audio.InputDevices()
	if err != nil {
		fmt.Fprintf(c.Stdout, "  (none: %v)\n", err)
		return nil
	}
	for _, in := range inputs {
		def := ""
		if in.Default {
			def = "  (default)"
		}
		fmt.Fprintf(c.Stdout, "  %s [%s, %.0f Hz]%s\n", in.Name, in.HostAPI, in.SampleRate, def)
	}
	return nil
}

func (c *CLI) version() error {
	fmt.Fprintf(c.Stdout, "dictate %s\nwhisper.cpp %s\n%s\nbackends:", Version, engine.Version(), engine.SystemInfo())
	for _, d := range engine.Devices() {
		fmt.Fprintf(c.Stdout, " %s(%s)", d.Name, d.Kind)
	}
	fmt.Fprintln(c.Stdout)
	return nil
}

func (c *CLI) dev(args []string) error {
	if len(args) > 0 && args[0] == "man" {
		date := time.Now()
		if s, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
			date = time.Unix(s, 0) // reproducible builds
		}
		manPage(c.Stdout, Version, date.UTC())
		return nil
	}
	if len(args) == 0 || args[0] != "gen-model" {
		return usageError{"dev needs a subcommand: gen-model or man"}
	}
	fs := c.newFlagSet("dev gen-model", "dev gen-model --arch NAME [--type f16|f32] [--seed N] [--say TEXT] OUT")
	arch := fs.String("arch", "micro", "architecture: "+strings.Join(engine.PresetNames(), ", "))
	typ := fs.String("type", "f16", "weight type: f16 or f32")
	seed := fs.Uint64("seed", 1, "weight seed (same seed, same file)")
	say := fs.String("say", "", "a sentence the model says whatever it hears (tests that check words)")
	rest, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError{"gen-model needs one output path"}
	}
	preset, ok := engine.PresetByName(*arch)
	if !ok {
		return usageError{fmt.Sprintf("unknown architecture %q (have %s)", *arch, strings.Join(engine.PresetNames(), ", "))}
	}
	ft := map[string]engine.FileType{"f16": engine.F16, "f32": engine.F32}
	t, ok := ft[*typ]
	if !ok {
		return usageError{fmt.Sprintf("unknown type %q (want f16 or f32)", *typ)}
	}
	if err := engine.GenerateModelFile(rest[0], preset, engine.GenerateOptions{Type: t, Seed: *seed, Say: *say}); err != nil {
		return err
	}
	info, err := engine.ValidateModelFile(rest[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "wrote %s: %s, %s bytes\n", rest[0], info.Describe(), strconv.FormatInt(info.Size, 10))
	return nil
}

// progressBar draws one line on a terminal.
type progressBar struct {
	w    io.Writer
	name string
	drew bool
}

func (p *progressBar) update(fp app.FileProgress) {
	const width = 30
	if fp.Fraction < 0 {
		fmt.Fprintf(p.w, "\r%s %s", p.name, formatDuration(fp.Done))
	} else {
		filled := int(fp.Fraction * width)
		fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% %s/%s", p.name, strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
			fp.Fraction*100, formatDuration(fp.Done), formatDuration(fp.Total))
	}
	p.drew = true
}

func (p *progressBar) finish() {
	if p != nil && p.drew {
		fmt.Fprintln(p.w)
	}
}

// formatDuration prints m:ss or h:mm:ss.
func formatDuration(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
