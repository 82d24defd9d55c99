package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/dictate-app/dictate/app/hotkey"
	"github.com/dictate-app/dictate/app/textout"
	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/engine"
)

// SessionConfig is everything a dictation session is made of.
type SessionConfig struct {
	ModelPath       string
	Hotkey          hotkey.Spec
	HotkeyBackend   string
	Mode            Mode
	Output          string // type or paste
	TerminalClasses []string
	Device          string
	Tail            time.Duration
	InstantStart    bool
	Engine          engine.Options
	GPU             bool
	HistoryPath     string
	RecordingsDir   string
}

// Session is a running dictation: model, microphone, hotkey and text output wired to the
// flow. The CLI's listen and the GUI both run one.
type Session struct {
	Dictation *Dictation
	Model     *engine.Model
	History   *History
	Hotkey    hotkey.Spec
	mic       *audio.Microphone
	out       *textout.Inserter
	cancel    context.CancelFunc
}

// StartSession loads everything and grabs the hotkey; Run then processes takes. On error
// whatever was opened is closed again.
func StartSession(ctx context.Context, cfg SessionConfig) (s *Session, err error) {
	out, err := textout.New(textout.Config{Mode: cfg.Output, TerminalClasses: cfg.TerminalClasses})
	if err != nil {
		return nil, usageError{err.Error()}
	}
	hist, err := OpenHistory(cfg.HistoryPath)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	model, err := engine.Load(cfg.ModelPath, engine.LoadOptions{GPU: cfg.GPU, FlashAttention: true})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			model.Close()
		}
	}()
	rec := &lazyRecorder{}
	d := NewDictation(DictationConfig{
		Mode:          cfg.Mode,
		Engine:        cfg.Engine,
		Replacements:  DefaultReplacements,
		Model:         filepath.Base(cfg.ModelPath),
		Device:        model.Device(),
		RecordingsDir: cfg.RecordingsDir,
	}, rec, model, out, hist)
	mic, err := audio.OpenMicrophone(audio.CaptureConfig{Device: cfg.Device, Tail: cfg.Tail, InstantStart: cfg.InstantStart,
		SpoolDir: cfg.RecordingsDir, OnLevel: d.OnLevel})
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
	keys, err := hotkey.Listen(hctx, cfg.Hotkey, hotkey.Options{Backend: cfg.HotkeyBackend})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("hotkey %s: %w", cfg.Hotkey, err)
	}
	go func() {
		for k := range keys {
			if k.Down {
				d.Press(k.At)
			} else {
				d.Release(k.At)
			}
		}
	}()
	return &Session{Dictation: d, Model: model, History: hist, Hotkey: cfg.Hotkey, mic: mic, out: out, cancel: cancel}, nil
}

// Run processes takes until ctx ends, then releases the hotkey, microphone and model.
func (s *Session) Run(ctx context.Context) error {
	err := s.Dictation.Run(ctx)
	s.cancel()
	s.out.Wait()
	s.mic.Close()
	s.Model.Close()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
