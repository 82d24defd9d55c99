package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dictate-app/dictate/app"
	"github.com/dictate-app/dictate/app/textout"
)

// sessionFlags defines the flags shared by listen and gui, with the saved settings as
// their defaults, and reads them. A flag given overrides its setting for this run only.
func (c *CLI) sessionFlags(ctx context.Context, fs *flag.FlagSet, args []string) (cfg app.SessionConfig, set app.Settings, notice string, err error) {
	if c.describing {
		set = app.DefaultSettings()
	} else if set, notice, err = app.LoadSettings(app.SettingsPath()); err != nil {
		return app.SessionConfig{}, set, notice, err
	}
	modelSpec := fs.String("model", os.Getenv("DICTATE_MODEL"), "model file or installed model name; default $DICTATE_MODEL, else the default model")
	fs.StringVar(&set.Hotkey, "hotkey", set.Hotkey, "hotkey: modifiers+key (ctrl+shift+space, super+alt+d) or one key (F9, RightCtrl)")
	backend := fs.String("hotkey-backend", "", "x11, portal or none (default: portal on Wayland, else x11; none: dictate ctl only)")
	fs.StringVar(&set.Mode, "mode", set.Mode, "hold (push-to-talk), toggle, or auto (tap toggles, hold talks)")
	fs.StringVar(&set.Output, "output", set.Output, "type (keystrokes) or paste (clipboard, then restored)")
	fs.StringVar(&set.Inserter, "inserter", set.Inserter, "what types: auto, xtest (X11), wayland (virtual keyboard), portal (RemoteDesktop: GNOME, KDE) or clipboard (copy only)")
	fs.StringVar(&set.PasteChord, "paste-chord", set.PasteChord, "paste keys: auto, ctrl+v, ctrl+shift+v or shift+insert")
	fs.StringVar(&set.Device, "device", set.Device, "microphone name or part of it (default: the system's default input)")
	tail := fs.Duration("tail", time.Duration(set.TailMS)*time.Millisecond, "keep recording up to this long after release (less once the speaker is silent)")
	fs.BoolVar(&set.LiveCommit, "live", set.LiveCommit, "transcribe while the key is held: committed words print as they come, and the wait after release stays short (=false: all of it after release)")
	fs.BoolVar(&set.LivePrompt, "live-prompt", set.LivePrompt, "prompt each live pass with the text committed before it (=false: a model that repeats or skips words with it)")
	fs.BoolVar(&set.LiveType, "live-type", set.LiveType, "type words as they commit, not all at release (never taken back); while the hotkey is held on X11, or one with Ctrl, Alt, Shift or Super, they wait for release: use --mode toggle")
	fs.BoolVar(&set.InstantStart, "instant-start", set.InstantStart, "keep the microphone open between takes, with 300 ms of pre-roll, so no first word is lost (=false: open it per take)")
	fs.StringVar(&set.Language, "language", set.Language, "spoken language or auto")
	fs.BoolVar(&set.Translate, "translate", set.Translate, "translate into English (multilingual models)")
	fs.IntVar(&set.Threads, "threads", set.Threads, "CPU threads (0: one per physical core)")
	maxTokens := fs.Int("max-tokens", 0, "most tokens per take (0: no limit)")
	fs.StringVar(&set.Prompt, "prompt", set.Prompt, "initial prompt: names and words to expect")
	fs.BoolVar(&set.Sounds, "sounds", set.Sounds, "play a short cue when a take starts and stops")
	fs.BoolVar(&set.TrimAudioCtx, "trim-audio-ctx", set.TrimAudioCtx, "encode only as much of the 30 s window as a short take needs")
	fs.Float64Var(&set.AudioCtxFloorS, "audio-ctx-floor", set.AudioCtxFloorS, "seconds: the least of the window encoded when trimming")
	noGPU := fs.Bool("no-gpu", !set.GPU, "run on the CPU only")
	histPath := fs.String("history", app.DefaultHistoryPath(), "history file")
	recDir := fs.String("recordings", filepath.Join(filepath.Dir(app.DefaultHistoryPath()), "recordings"), "where takes are saved as WAV (\"\" to not save)")
	terminals := fs.String("terminal-classes", strings.Join(set.TerminalClasses, ","), "window classes that paste with Ctrl+Shift+V")
	if _, err := parseInterspersed(fs, args); err != nil {
		return app.SessionConfig{}, set, notice, err
	}
	if *tail < 0 || *tail > 5*time.Second {
		return app.SessionConfig{}, set, notice, usageError{"--tail must be between 0 and 5s"}
	}
	set.TailMS = int(tail.Milliseconds())
	set.GPU = !*noGPU
	set.TerminalClasses = strings.Split(*terminals, ",")
	if cfg, err = set.SessionConfig(""); err != nil {
		return app.SessionConfig{}, set, notice, usageError{strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	cfg.HotkeyBackend = *backend
	cfg.Engine.MaxTokens = *maxTokens
	cfg.HistoryPath, cfg.RecordingsDir, cfg.Log = *histPath, *recDir, c.log
	if cfg.ModelPath, err = c.resolveModel(ctx, *modelSpec, set.Language); err != nil {
		return cfg, set, notice, err
	}
	return cfg, set, notice, nil
}

// listen runs push-to-talk dictation without the GUI.
func (c *CLI) listen(ctx context.Context, args []string) error {
	fs := c.newFlagSet("listen", "listen [flags]")
	quiet := fs.Bool("quiet", false, "print only takes and errors")
	cfg, _, notice, err := c.sessionFlags(ctx, fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	for _, n := range nonEmpty(notice, c.keepCrashReports()) {
		fmt.Fprintln(c.Stderr, n)
	}
	if err != nil {
		return err
	}
	control := app.DefaultControlPath()
	if reply, err := app.SendControl(control, "status"); err == nil {
		return fmt.Errorf("%w (%s); drive it with dictate ctl", app.ErrAlreadyRunning, reply)
	}
	sess, err := app.StartSession(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	server, err := app.ServeControl(control, sess.Control())
	if err != nil {
		c.log.Warn("dictate ctl will not reach this instance", "err", err)
	} else {
		defer server.Close()
	}
	events, unsubscribe := sess.Dictation.Subscribe()
	defer unsubscribe()
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		c.printEvents(events, *quiet)
	}()
	how := map[app.Mode]string{app.ModeHold: "hold %s and speak", app.ModeToggle: "press %s to start and stop", app.ModeAuto: "hold %s to talk, or tap it to start and stop"}[cfg.Mode]
	keys := fmt.Sprintf(how, cfg.Hotkey)
	if sess.HotkeyErr != nil {
		keys = fmt.Sprintf("no global hotkey here (%v): bind \"dictate ctl press\" and \"dictate ctl release\" to a key in your compositor", sess.HotkeyErr)
	}
	fmt.Fprintf(c.Stderr, "ready: %s (model %s on %s; text via %s; Ctrl-C quits)\n", keys, filepath.Base(cfg.ModelPath), sess.Model.Device(), sess.Output)
	err = sess.Run(ctx)
	<-printed
	return err
}

func (c *CLI) printEvents(events <-chan app.Event, quiet bool) {
	for e := range events {
		switch e.Kind {
		case app.EventState:
			if !quiet && e.State != app.Idle {
				fmt.Fprintf(c.Stderr, "%s…\n", e.State)
			}
		case app.EventNotice:
			if !quiet {
				fmt.Fprintln(c.Stderr, e.Text)
			}
		case app.EventError:
			fmt.Fprintf(c.Stderr, "error: %v\n", e.Err)
		case app.EventTake:
			printTake(c.Stderr, *e.Take)
		case app.EventLive:
			if e.Live.New != "" {
				fmt.Fprintf(c.Stderr, "live %.1f s: %s\n", e.Live.Elapsed.Seconds(), e.Live.New)
			}
		}
	}
}

func printTake(w io.Writer, r app.TakeRecord) {
	switch {
	case r.Dropped != "":
		fmt.Fprintf(w, "(%.1f s, dropped: %s)\n", r.Audio, r.Dropped)
	case r.Error != "" && r.Text == "":
		fmt.Fprintf(w, "(%.1f s, failed: %s)\n", r.Audio, r.Error)
	default:
		fmt.Fprintf(w, "%.1f s → %.0f ms: %s\n", r.Audio, r.Latency.KeyUpToText, r.Text)
	}
}

// history prints past takes, or copies/pastes the last one.
func (c *CLI) history(ctx context.Context, args []string) error {
	fs := c.newFlagSet("history", "history [copy-last|paste-last] [flags]")
	path := fs.String("history", app.DefaultHistoryPath(), "history file")
	n := fs.Int("n", 20, "how many takes to show (0: all)")
	asJSON := fs.Bool("json", false, "print records as JSON lines")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	h, err := app.OpenHistory(*path)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		last, err := h.Last()
		if err != nil {
			return err
		}
		switch rest[0] {
		case "copy-last":
			return copyAndServe(ctx, c.Stderr, last.Text)
		case "paste-last":
			out, err := textout.New(textout.Config{Mode: "paste"})
			if err != nil {
				return err
			}
			defer out.Wait()
			return out.Insert(ctx, last.Text)
		}
		return usageError{fmt.Sprintf("unknown history action %q (want copy-last or paste-last)", rest[0])}
	}
	recs, skipped, err := h.Load(*n)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if *asJSON {
			b, _ := json.Marshal(r)
			fmt.Fprintln(c.Stdout, string(b))
			continue
		}
		fmt.Fprintf(c.Stdout, "%s  ", r.Time.Local().Format("2006-01-02 15:04:05"))
		printTake(c.Stdout, r)
	}
	if skipped > 0 {
		fmt.Fprintf(c.Stderr, "(%d unreadable lines in %s skipped)\n", skipped, h.Path())
	}
	return nil
}

// copyAndServe puts text on the clipboard. On X11 the clipboard lives in the process that
// set it, so this stays until something else is copied (or ten minutes pass).
func copyAndServe(ctx context.Context, w io.Writer, text string) error {
	replaced, err := textout.Copy(ctx, text)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "copied; keeping it on the clipboard until something else is copied (Ctrl-C to stop)")
	select {
	case <-replaced:
	case <-ctx.Done():
	case <-time.After(10 * time.Minute):
	}
	return nil
}
