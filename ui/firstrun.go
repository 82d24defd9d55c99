package ui

import (
	"context"
	"errors"
	"fmt"
	"time"

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

	download backgroundJob
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
	if !f.download.idle() {
		return
	}
	f.Download.Disable()
	f.Cancel.Show()
	f.Progress.SetValue(0)
	f.Progress.Show()
	ctx, cancel := context.WithCancel(context.Background())
	f.download.start(ctx, cancel, func(ctx context.Context) {
		err := f.ctl.DownloadModel(ctx, name, func(p models.Progress) {
			switch {
			case p.Phase == "retrying":
				fyne.Do(func() {
					f.Info.SetText(fmt.Sprintf("%s: %s. Trying again in %s…", p.Name, p.Problem, p.RetryIn.Round(time.Second)))
				})
			case p.Total > 0:
				fyne.Do(func() { f.Progress.SetValue(float64(p.Done) / float64(p.Total)) })
			}
		})
		// Read now: the job cancels ctx once this returns, before the closure below runs.
		paused := errors.Is(err, context.Canceled) && ctx.Err() != nil
		fyne.Do(func() {
			f.Cancel.Hide()
			f.Download.Enable()
			switch {
			case err == nil:
				f.Progress.SetValue(1)
				f.ready()
			case paused:
				f.Info.SetText("Download paused; it resumes where it stopped.")
				f.Download.SetText("Resume download")
			default:
				f.Info.SetText(downloadFailure(name, err))
				f.Download.SetText("Try again")
			}
		})
	})
}

// Stop cancels a download (its partial file is kept).
func (f *FirstRun) Stop() { f.download.cancelRunning() }

// Wait returns when no download runs.
func (f *FirstRun) Wait() { f.download.wait() }

// Close cancels a download and waits for it to end.
func (f *FirstRun) Close() {
	f.download.cancelRunning()
	f.download.wait()
}

// downloadFailure says why a download failed and what to do.
func downloadFailure(name string, err error) string {
	var de *models.DownloadError
	if errors.As(err, &de) {
		return fmt.Sprintf("Could not download %s: %s. %s", name, de.Reason, de.Advice)
	}
	return fmt.Sprintf("Could not download %s: %v", name, err)
}
