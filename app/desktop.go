package app

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/dictate-app/dictate/app/textout"
)

// Desktop is what the GUI drives: a running dictation session and file transcription on
// its model. It has no GUI code; ui/ renders it.
type Desktop struct {
	sess *Session
}

// Toggle starts or stops a take (window button, tray).
func (d *Desktop) Toggle() { d.sess.Dictation.Toggle() }

// Subscribe returns the dictation's event stream.
func (d *Desktop) Subscribe() (<-chan Event, func()) { return d.sess.Dictation.Subscribe() }

// History returns the last n takes, oldest first.
func (d *Desktop) History(n int) []TakeRecord {
	recs, _, _ := d.sess.History.Load(n)
	return recs
}

// Status names the model, the device and the hotkey.
func (d *Desktop) Status() string {
	return fmt.Sprintf("%s · %s · hotkey %s", filepath.Base(d.sess.Dictation.cfg.Model), d.sess.Model.Device(), d.sess.Hotkey)
}

// TranscribeFile transcribes an audio file with the session's model.
func (d *Desktop) TranscribeFile(ctx context.Context, path string, progress func(float64)) (Transcript, error) {
	tr, err := TranscribeFile(ctx, d.sess.Model, path, d.sess.Dictation.cfg.Engine, func(p FileProgress) {
		if progress != nil && p.Fraction >= 0 {
			progress(p.Fraction)
		}
	})
	tr.Model = d.sess.Dictation.cfg.Model
	return tr, err
}

// CopyText puts text on the clipboard.
func (d *Desktop) CopyText(text string) error {
	_, err := textout.Copy(context.Background(), text)
	return err
}

// gui starts a session and hands it to the GUI until the window quits.
func (c *CLI) gui(ctx context.Context, args []string) error {
	if c.GUI == nil {
		return usageError{"this build has no GUI"}
	}
	fs := c.newFlagSet("gui", "gui [--model M] [--hotkey SPEC] [--mode MODE] [--output type|paste]")
	cfg, err := c.sessionFlags(ctx, fs, args)
	if err != nil {
		return err
	}
	sess, err := StartSession(ctx, cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sess.Run(ctx) }()
	err = c.GUI(ctx, &Desktop{sess: sess})
	cancel()
	if rerr := <-done; err == nil {
		err = rerr
	}
	return err
}
