package ui

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// audioExtensions are the files the picker offers (the Go decoders' and ffmpeg's common
// audio and video containers); "Show all files" offers the rest too.
var audioExtensions = []string{".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".mp4", ".m4v",
	".mkv", ".mka", ".webm", ".wma", ".aif", ".aiff", ".caf", ".amr", ".3gp", ".mov", ".avi"}

// FilePicker picks several files at once from one folder: Fyne's own dialog picks one, and
// drag and drop is no help from the keyboard or from file managers that cannot drag.
// Folders open when tapped; files are ticked.
type FilePicker struct {
	Folder  *widget.Entry // the folder shown; Enter opens what is typed
	Up      *widget.Button
	All     *widget.Check // show every file, not only audio and video
	List    *widget.List
	Add     *widget.Button
	Message *widget.Label

	dir     string
	entries []pickerEntry
	onPick  func(paths []string)
	dialog  dialog.Dialog
}

type pickerEntry struct {
	name   string
	folder bool
	ticked bool
}

// NewFilePicker builds the picker on dir; onPick gets the ticked files' paths.
func NewFilePicker(dir string, onPick func(paths []string)) *FilePicker {
	p := &FilePicker{onPick: onPick}
	p.Folder = widget.NewEntry()
	p.Folder.OnSubmitted = func(s string) { p.Open(strings.TrimSpace(s)) }
	p.Up = widget.NewButton("Up", func() { p.Open(filepath.Dir(p.dir)) })
	p.All = widget.NewCheck("Show all files", func(bool) { p.Open(p.dir) })
	p.Message = widget.NewLabel("")
	p.Add = widget.NewButton("Add", p.pick)
	p.Add.Importance = widget.HighImportance
	p.List = widget.NewList(
		func() int { return len(p.entries) },
		func() fyne.CanvasObject {
			return container.NewStack(widget.NewCheck("", nil), widget.NewButton("", nil))
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			e := p.entries[id]
			check, open := o.(*fyne.Container).Objects[0].(*widget.Check), o.(*fyne.Container).Objects[1].(*widget.Button)
			if e.folder {
				check.Hide()
				open.Show()
				open.SetText(e.name + string(filepath.Separator))
				open.OnTapped = func() { p.Open(filepath.Join(p.dir, e.name)) }
				return
			}
			open.Hide()
			check.Show()
			check.OnChanged = nil // SetChecked below must not tick the row it came from
			check.Text = e.name
			check.SetChecked(e.ticked)
			check.OnChanged = func(on bool) { p.Tick(e.name, on) }
		})
	p.Open(dir)
	return p
}

// Content is the picker's layout.
func (p *FilePicker) Content() fyne.CanvasObject {
	top := container.NewBorder(nil, nil, p.Up, nil, p.Folder)
	bottom := container.NewBorder(nil, nil, p.All, p.Add, p.Message)
	return container.NewBorder(top, bottom, nil, nil, p.List)
}

// Show opens the picker as a dialog over win.
func (p *FilePicker) Show(win fyne.Window) {
	p.dialog = dialog.NewCustom("Add files", "Cancel", p.Content(), win)
	p.dialog.Resize(fyne.NewSize(560, 480))
	p.dialog.Show()
}

// Open shows a folder: its subfolders first, then its (audio) files, each sorted by name.
func (p *FilePicker) Open(dir string) {
	if dir == "" {
		dir = p.dir
	}
	items, err := os.ReadDir(dir)
	if err != nil {
		p.Message.SetText("Cannot open " + dir + ": " + err.Error())
		p.Folder.SetText(p.dir)
		return
	}
	var folders, files []pickerEntry
	for _, it := range items {
		name := it.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		info, err := os.Stat(filepath.Join(dir, name)) // follows links to folders
		switch {
		case err != nil:
		case info.IsDir():
			folders = append(folders, pickerEntry{name: name, folder: true})
		case p.All.Checked || slices.Contains(audioExtensions, strings.ToLower(filepath.Ext(name))):
			files = append(files, pickerEntry{name: name})
		}
	}
	p.dir, p.entries = dir, append(folders, files...)
	p.Folder.SetText(dir)
	p.Message.SetText(fmt.Sprintf("%d files", len(files)))
	p.List.UnselectAll()
	p.List.Refresh()
	p.showCount()
}

// Tick ticks or unticks a file of the folder shown.
func (p *FilePicker) Tick(name string, on bool) {
	for i := range p.entries {
		if p.entries[i].name == name && !p.entries[i].folder {
			p.entries[i].ticked = on
		}
	}
	p.showCount()
}

// Ticked returns the paths of the ticked files.
func (p *FilePicker) Ticked() []string {
	var out []string
	for _, e := range p.entries {
		if e.ticked {
			out = append(out, filepath.Join(p.dir, e.name))
		}
	}
	return out
}

func (p *FilePicker) showCount() {
	n := len(p.Ticked())
	p.Add.SetText(fmt.Sprintf("Add %d files", n))
	if n == 1 {
		p.Add.SetText("Add 1 file")
	}
	if n == 0 {
		p.Add.Disable()
	} else {
		p.Add.Enable()
	}
}

func (p *FilePicker) pick() {
	paths := p.Ticked()
	if len(paths) == 0 {
		return
	}
	if p.dialog != nil {
		p.dialog.Hide()
	}
	p.onPick(paths)
}
