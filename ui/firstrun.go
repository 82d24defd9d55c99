package ui

import (
	"context"
	"fmt"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/dictate-app/dictate/app/models"
)

// FirstRun is the card shown while no model is installed: it offers the recommended
// model and downloads it with progress (a partial download resumes next time).
type FirstRun struct {
	ctl      Controller
	ready    func()
	Box      *fyne.Container
	Info     *widget.Label
	Download *widget.Button
	Cancel   *widget.Button
	Progress *widget.ProgressBar

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewFirstRun builds the card; ready runs on the Fyne thread once the model is in use.
func NewFirstRun(ctl Controller, ready func()) *FirstRun {
	f := &FirstRun{ctl: ctl, ready: ready}
	name, size := ctl.Recommended()
	f.Info = widget.NewLabel(fmt.Sprintf("No speech model is installed yet. Recommended for this computer: %s (%s), downloaded once from Hugging Face and then used offline.", name, size))
	f.Info.Wrapping = fyne.TextWrapWord
	f.Progress = widget.NewProgressBar()
	f.Progress.Hide()
	f.Download = widget.NewButton("Download "+name, func() { f.Start(name) })
	f.Download.Importance = widget.HighImportance
	f.Cancel = widget.NewButton("Cancel", f.Stop)
	f.Cancel.Hide()
	if name == "" {
		f.Download.Disable()
	}
	f.Box = container.NewVBox(f.Info, f.Progress, container.NewHBox(f.Download, f.Cancel), widget.NewSeparator())
	return f
}

// Start downloads name in the background.
func (f *FirstRun) Start(name string) {
	f.mu.Lock()
	if f.cancel != nil {
		f.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	f.cancel, f.done = cancel, done
	f.mu.Unlock()
	f.Download.Disable()
	f.Cancel.Show()
	f.Progress.SetValue(0)
	f.Progress.Show()
	go func() {
		defer close(done)
		err := f.ctl.DownloadModel(ctx, name, func(p models.Progress) {
			if p.Total > 0 {
				fyne.Do(func() { f.Progress.SetValue(float64(p.Done) / float64(p.Total)) })
			}
		})
		f.mu.Lock()
		f.cancel = nil
		f.mu.Unlock()
		cancel()
		fyne.Do(func() {
			f.Cancel.Hide()
			f.Download.Enable()
			switch {
			case err == nil:
				f.Progress.SetValue(1)
				f.ready()
			case ctx.Err() != nil:
				f.Info.SetText("Download paused; it resumes where it stopped.")
				f.Download.SetText("Resume download")
			default:
				f.Info.SetText("Download failed: " + err.Error())
				f.Download.SetText("Try again")
			}
		})
	}()
}

// Stop cancels a download (its partial file is kept).
func (f *FirstRun) Stop() {
	f.mu.Lock()
	cancel := f.cancel
	f.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// Wait returns when no download runs.
func (f *FirstRun) Wait() {
	f.mu.Lock()
	done := f.done
	f.mu.Unlock()
	if done != nil {
		<-done
	}
}

// Close cancels a download and waits for it to end.
func (f *FirstRun) Close() {
	f.mu.Lock()
	cancel, done := f.cancel, f.done
	f.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}
