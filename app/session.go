package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dictate-app/dictate/app/hotkey"
	"github.com/dictate-app/dictate/app/textout"
	"github.com/dictate-app/dictate/assets"
	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/engine"
)

// SessionConfig is everything a dictation session is made of.
type SessionConfig struct {
	ModelPath       string
	Hotkey          hotkey.Spec
	HotkeyBackend   string
	Inserter        string // text output backend: auto, xtest, wayland, portal, clipboard
	Mode            Mode
	Output          string // type or paste
	PasteChord      string
	TerminalClasses []string
	Device          string
	Tail            time.Duration
	InstantStart    bool
	Engine          engine.Options
	Replacements    []Replacement // default DefaultReplacements
	GPU             bool
	Sounds          bool // start/stop cues
	LiveCommit      bool // transcribe while the key is held (DictationConfig.Live)
	LivePrompt      bool // prompt live passes with the committed text
	LiveType        bool // type committed words as they commit
	HistoryPath     string
	RecordingsDir   string
	Log             *slog.Logger // default: discard

	model *engine.Model // loaded by the caller (the GUI keeps one model across sessions)
}

// Session is a running dictation: model, microphone, hotkey and text output wired to the
// flow. The CLI's listen and the GUI both run one.
type Session struct {
	Dictation *Dictation
	Model     *engine.Model
	History   *History
	Hotkey    hotkey.Spec
	HotkeyErr error           // why no hotkey is grabbed (then only dictate ctl drives it)
	Output    textout.Backend // what types and pastes
	Sounds    atomic.Bool
	modelName string
	mic       *audio.Microphone
	out       *textout.Inserter
	cancel    context.CancelFunc
	ownsModel bool // loaded here (not handed in), so Run closes it
	cues      audio.Player
	cuesDone  chan struct{}
	keysDone  chan struct{} // closed once the hotkey is released
}

// StartSession loads everything and grabs the hotkey; Run then processes takes. On error
// whatever was opened is closed again.
func StartSession(ctx context.Context, cfg SessionConfig) (s *Session, err error) {
	if cfg.Log == nil {
		cfg.Log = discardLog
	}
	out, err := textout.New(textout.Config{Mode: cfg.Output, Backend: cfg.Inserter, PasteChord: cfg.PasteChord, TerminalClasses: cfg.TerminalClasses})
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	defer func() {
		if err != nil {
			out.Close()
		}
	}()
	hist, err := OpenHistory(cfg.HistoryPath)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	// A model handed in stays the caller's; one loaded here is closed by Run.
	model := cfg.model
	if model == nil {
		if model, err = engine.Load(cfg.ModelPath, ModelLoadOptions(cfg.GPU)); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				model.Close()
			}
		}()
	}
	if cfg.Replacements == nil {
		cfg.Replacements = DefaultReplacements
	}
	rec := &lazyRecorder{}
	d := NewDictation(DictationConfig{
		Mode:                cfg.Mode,
		Engine:              cfg.Engine,
		Replacements:        cfg.Replacements,
		Clipboard:           copyText,
		Model:               filepath.Base(cfg.ModelPath),
		Device:              model.Device(),
		RecordingsDir:       cfg.RecordingsDir,
		Log:                 cfg.Log,
		Inserter:            out.Backend().Name,
		Live:                cfg.LiveCommit,
		LivePrompt:          cfg.LivePrompt,
		LiveType:            cfg.LiveType,
		HeldKeyBlocksTyping: cfg.Hotkey.BlocksTypingWhileHeld(cfg.HotkeyBackend),
	}, rec, model, out, hist)
	mic, err := audio.OpenMicrophone(audio.CaptureConfig{Device: cfg.Device, Tail: cfg.Tail, QuietTail: true, InstantStart: cfg.InstantStart,
		SpoolDir: cfg.RecordingsDir, OnLevel: d.OnLevel, OnDevice: d.OnDevice})
	if err != nil {
		return nil, fmt.Errorf("microphone: %w", err)
	}
	defer func() {
		if err != nil {
			mic.Close()
		}
	}()
	rec.mu.Lock()
	rec.mic = mic
	rec.mu.Unlock()
	select {
	case <-mic.Ready():
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	hctx, cancel := context.WithCancel(ctx)
	keys, hotkeyErr := hotkey.Listen(hctx, cfg.Hotkey, hotkey.Options{Backend: cfg.HotkeyBackend})
	if hotkeyErr != nil && !errors.Is(hotkeyErr, hotkey.ErrUnavailable) {
		cancel()
		return nil, fmt.Errorf("hotkey %s: %w", cfg.Hotkey, hotkeyErr)
	}
	// Without a global hotkey (Sway, Hyprland: no GlobalShortcuts portal) dictation runs
	// on the control socket, bound to a key in the compositor.
	keysDone := make(chan struct{})
	go func() {
		defer close(keysDone)
		if keys == nil {
			return
		}
		for k := range keys {
			if k.Down {
				d.Press(k.At)
			} else {
				d.Release(k.At)
			}
		}
	}()
	s = &Session{Dictation: d, Model: model, History: hist, Hotkey: cfg.Hotkey, HotkeyErr: hotkeyErr, Output: out.Backend(),
		modelName: filepath.Base(cfg.ModelPath), mic: mic, out: out, cancel: cancel, keysDone: keysDone, ownsModel: cfg.model == nil}
	s.Sounds.Store(cfg.Sounds)
	s.cues.OnError = func(err error) { cfg.Log.Warn("could not play a cue", "err", err) }
	s.cuesDone = make(chan struct{})
	events, unsubscribe := d.Subscribe() // before Run can close the stream
	go s.playCues(events, unsubscribe, cfg.Log)
	return s, nil
}

var cues = sync.OnceValues(func() ([2]audio.Cue, error) {
	start, err := audio.LoadCue(assets.StartSound)
	if err != nil {
		return [2]audio.Cue{}, err
	}
	stop, err := audio.LoadCue(assets.StopSound)
	return [2]audio.Cue{start, stop}, err
})

// playCues plays the start cue when recording starts and the stop cue when it ends.
func (s *Session) playCues(events <-chan Event, unsubscribe func(), log *slog.Logger) {
	defer close(s.cuesDone)
	defer unsubscribe()
	sounds, err := cues()
	if err != nil {
		log.Warn("no cues", "err", err)
	}
	prev := Idle
	for e := range events {
		if e.Kind != EventState {
			continue
		}
		if s.Sounds.Load() && err == nil {
			switch {
			case e.State == Recording && prev != Recording:
				s.cues.Play(sounds[0])
			case prev == Recording && e.State != Recording:
				s.cues.Play(sounds[1])
			}
		}
		prev = e.State
	}
}

// copyText puts text on the clipboard (quick-transcribe takes, Copy buttons). On X11 the
// text stays while this process runs.
func copyText(ctx context.Context, text string) error {
	_, err := textout.Copy(ctx, text)
	return err
}

// discardLog is the logger of whoever was given none.
var discardLog = slog.New(slog.DiscardHandler)

// ModelLoadOptions is how the app loads models: the preferred GPU if asked for, flash attention.
func ModelLoadOptions(gpu bool) engine.LoadOptions {
	return engine.LoadOptions{GPU: gpu, GPUDevice: engine.AutoGPU, FlashAttention: true}
}

// Run processes takes until ctx ends, then releases the hotkey, microphone and model.
func (s *Session) Run(ctx context.Context) error {
	err := s.Dictation.Run(ctx)
	s.cancel()
	<-s.keysDone
	s.out.Close()
	s.mic.Close()
	<-s.cuesDone
	s.cues.Wait()
	if s.ownsModel {
		s.Model.Close()
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// lazyRecorder lets the dictation exist before the microphone (whose level callback
// feeds the dictation's events).
type lazyRecorder struct {
	mu  sync.Mutex
	mic *audio.Microphone
}

func (l *lazyRecorder) Start(at time.Time) (RecordingTake, error) {
	l.mu.Lock()
	mic := l.mic
	l.mu.Unlock()
	if mic == nil {
		return nil, audio.ErrNoInput
	}
	t, err := mic.Start(at)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Control is what the control socket drives: this session's dictation.
func (s *Session) Control() Controlled { return sessionControl{s} }

type sessionControl struct{ s *Session }

func (c sessionControl) Press(at time.Time)   { c.s.Dictation.Press(at) }
func (c sessionControl) Release(at time.Time) { c.s.Dictation.Release(at) }
func (c sessionControl) Toggle()              { c.s.Dictation.Toggle() }
func (c sessionControl) Cancel()              { c.s.Dictation.Cancel() }
func (c sessionControl) Status() string {
	return c.s.Dictation.State().String() + " · " + c.s.modelName + " · text via " + c.s.Output.Name
}
