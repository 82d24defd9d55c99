package ui

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"

	"github.com/dictate-app/dictate/app"
)

// FileJob is one dropped file in the queue.
type FileJob struct {
	Path       string
	Progress   float64
	Status     string // queued, transcribing, done, cancelled, or the error
	Transcript *app.Transcript
	ctx        context.Context
	cancel     context.CancelFunc
}

// FilesPanel transcribes dropped files one at a time; a broken file shows its error and
// the rest of the queue goes on.
type FilesPanel struct {
	ctl      FileController
	win      fyne.Window // parent of the save dialog
	mu       sync.Mutex
	jobs     []*FileJob
	wake     chan struct{}
	List     *widget.List
	Formats  *widget.Select
	AddFiles *widget.Button // opens the picker: several files at once, from the keyboard too
	lastDir  string         // the folder of the last file added
	once     sync.Once
	closed   bool
	ended    chan struct{} // closed when the worker has returned
}

// FileController is what the Files panel needs (app.Desktop provides it).
type FileController interface {
	TranscribeFile(ctx context.Context, path string, progress func(float64)) (app.Transcript, error)
	CopyText(text string) error
}

// NewFilesPanel makes the panel; its worker starts with the first file.
func NewFilesPanel(ctl FileController, win fyne.Window) *FilesPanel {
	p := &FilesPanel{ctl: ctl, win: win, wake: make(chan struct{}, 1), ended: make(chan struct{})}
	p.Formats = widget.NewSelect(app.Formats, nil)
	p.AddFiles = widget.NewButton("Add files…", func() { p.ShowPicker() })
	p.Formats.SetSelected("srt")
	p.List = widget.NewList(
		func() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.jobs) },
		func() fyne.CanvasObject {
			return container.NewVBox(widget.NewLabel(""), widget.NewProgressBar(),
				container.NewHBox(widget.NewButton("Cancel", nil), widget.NewButton("Copy all", nil), widget.NewButton("Export…", nil)))
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			p.mu.Lock()
			j := *p.jobs[id]
			job := p.jobs[id]
			p.mu.Unlock()
			box := o.(*fyne.Container)
			box.Objects[0].(*widget.Label).SetText(filepath.Base(j.Path) + " — " + j.Status)
			box.Objects[1].(*widget.ProgressBar).SetValue(j.Progress)
			buttons := box.Objects[2].(*fyne.Container).Objects
			buttons[0].(*widget.Button).OnTapped = func() { p.Cancel(job) }
			buttons[1].(*widget.Button).OnTapped = func() {
				if j.Transcript == nil {
					return
				}
				if err := ctl.CopyText(j.Transcript.Text()); err != nil {
					dialog.ShowError(fmt.Errorf("could not copy the transcript: %w", err), p.win)
				}
			}
			buttons[2].(*widget.Button).OnTapped = func() { p.ShowExportDialog(job, p.Formats.Selected) }
			// Cancel while queued or running; Copy all and Export once there is a transcript.
			running := j.Transcript == nil && j.cancel != nil
			for i, b := range buttons {
				if (i == 0 && running) || (i > 0 && j.Transcript != nil) {
					b.(*widget.Button).Enable()
				} else {
					b.(*widget.Button).Disable()
				}
			}
		})
	return p
}

// Content is the panel's layout.
func (p *FilesPanel) Content() fyne.CanvasObject {
	hint := widget.NewLabel("Drop audio files on this window, or add them (WAV, MP3, FLAC, Ogg; anything else with ffmpeg).")
	hint.Wrapping = fyne.TextWrapWord
	return container.NewBorder(container.NewVBox(hint, container.NewHBox(p.AddFiles, widget.NewLabel("Export as"), p.Formats)), nil, nil, nil, p.List)
}

// ShowPicker opens the Add files dialog in the folder files were last added from (else
// the home folder), and queues what is picked.
func (p *FilesPanel) ShowPicker() *FilePicker {
	p.mu.Lock()
	dir := p.lastDir
	p.mu.Unlock()
	if dir == "" {
		dir, _ = os.UserHomeDir()
	}
	picker := NewFilePicker(dir, func(paths []string) {
		for _, path := range paths {
			p.Add(path)
		}
	})
	picker.Show(p.win)
	return picker
}

// Jobs returns a snapshot of the queue.
func (p *FilesPanel) Jobs() []FileJob {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]FileJob, len(p.jobs))
	for i, j := range p.jobs {
		out[i] = *j
	}
	return out
}

// Add queues a file.
func (p *FilesPanel) Add(path string) {
	ctx, cancel := context.WithCancel(context.Background())
	job := &FileJob{Path: path, Status: "queued", ctx: ctx, cancel: cancel}
	p.mu.Lock()
	p.lastDir = filepath.Dir(path)
	if p.closed {
		p.mu.Unlock()
		cancel()
		return
	}
	p.jobs = append(p.jobs, job)
	p.once.Do(func() { go p.work() })
	select {
	case p.wake <- struct{}{}:
	default:
	}
	p.mu.Unlock()
	p.refresh()
}

// Close cancels every file and waits for the worker to end.
func (p *FilesPanel) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	for _, j := range p.jobs {
		if j.cancel != nil {
			j.cancel()
		}
	}
	close(p.wake)
	started := true
	p.once.Do(func() { started = false })
	p.mu.Unlock()
	if started {
		<-p.ended
	}
}

func (p *FilesPanel) work() {
	defer close(p.ended)
	for range p.wake {
		for {
			job := p.next()
			if job == nil {
				break
			}
			ctx := job.ctx
			p.update(job, func(j *FileJob) { j.Status = "transcribing" })
			tr, err := p.ctl.TranscribeFile(ctx, job.Path, func(f float64) {
				p.update(job, func(j *FileJob) { j.Progress = f })
			})
			p.update(job, func(j *FileJob) {
				switch {
				case ctx.Err() != nil:
					j.Status = "cancelled"
				case err != nil:
					j.Status = err.Error()
				default:
					j.Transcript, j.Progress = &tr, 1
					j.Status = "done: " + firstWords(tr.Text(), 60)
				}
				j.cancel = nil
			})
		}
	}
}

// firstWords shortens s to n characters (not bytes: a cut must not split one).
func firstWords(s string, n int) string {
	runes := []rune(s)
	if len(runes) <= n {
		return s
	}
	return string(runes[:n]) + "…"
}

func (p *FilesPanel) next() *FileJob {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, j := range p.jobs {
		if j.Status == "queued" {
			return j
		}
	}
	return nil
}

func (p *FilesPanel) update(job *FileJob, f func(*FileJob)) {
	p.mu.Lock()
	f(job)
	p.mu.Unlock()
	p.refresh()
}

// refresh redraws the list on the Fyne thread.
func (p *FilesPanel) refresh() {
	fyne.Do(p.List.Refresh)
}

// Cancel stops a queued or running file.
func (p *FilesPanel) Cancel(job *FileJob) {
	p.mu.Lock()
	cancel := job.cancel
	if job.Status == "queued" {
		job.Status = "cancelled"
	}
	p.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	p.refresh()
}

// ShowExportDialog asks where to save the transcript, starting next to the audio file
// with its name and the format's extension.
func (p *FilesPanel) ShowExportDialog(job *FileJob, format string) *dialog.FileDialog {
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return // cancelled
		}
		if err := p.ExportTo(job, format, w); err != nil {
			dialog.ShowError(err, p.win)
		}
	}, p.win)
	out := exportName(job.Path, format)
	d.SetFileName(filepath.Base(out))
	if dir, err := storage.ListerForURI(storage.NewFileURI(filepath.Dir(out))); err == nil {
		d.SetLocation(dir)
	}
	d.Show()
	return d
}

// ExportTo writes the transcript in format to w and closes it.
func (p *FilesPanel) ExportTo(job *FileJob, format string, w io.WriteCloser) error {
	p.mu.Lock()
	tr := job.Transcript
	p.mu.Unlock()
	if tr == nil {
		w.Close()
		return os.ErrNotExist
	}
	if err := app.WriteTranscript(w, format, *tr); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// Export writes the transcript next to the audio file (NAME.FORMAT, or a numbered name
// when that exists) and returns its path.
func (p *FilesPanel) Export(job *FileJob, format string) (string, error) {
	p.mu.Lock()
	tr := job.Transcript
	p.mu.Unlock()
	if tr == nil {
		return "", os.ErrNotExist
	}
	return app.ExportTranscript(*tr, format)
}
