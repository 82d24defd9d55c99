package ui

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/dictate-app/dictate/app"
	"github.com/dictate-app/dictate/assets"
)

// setupTray adds the system tray menu where the desktop has one; closing the window then
// hides it, and dictation goes on.
func (m *MainWindow) setupTray() {
	desk, ok := m.app.(desktop.App)
	if !ok {
		return
	}
	m.trayMenu = fyne.NewMenu("Dictate")
	m.refreshTray()
	desk.SetSystemTrayIcon(trayIcon(false))
	m.win.SetCloseIntercept(m.win.Hide)
}

// TrayMenu builds the tray menu for the current state: Quick transcribe, Start/Stop
// dictation, Open window, Model ▸ (the installed models, the one in use checked), Quit.
func (m *MainWindow) TrayMenu() *fyne.Menu {
	m.mu.Lock()
	recording := m.state == app.Recording
	m.mu.Unlock()
	quick, dictation := "Quick transcribe", "Start dictation"
	if recording {
		quick, dictation = "Stop quick transcribe", "Stop dictation"
	}
	var modelItems []*fyne.MenuItem
	list, err := m.ctl.Models()
	for _, c := range list {
		name := c.Name
		item := fyne.NewMenuItem(fmt.Sprintf("%s (%s)", c.Name, c.Size), func() { m.switchModel(name) })
		item.Checked = c.Current
		modelItems = append(modelItems, item)
	}
	if err != nil || len(modelItems) == 0 {
		none := fyne.NewMenuItem("No models installed", nil)
		none.Disabled = true
		modelItems = append(modelItems, none)
	}
	modelMenu := fyne.NewMenuItem("Model", nil)
	modelMenu.ChildMenu = fyne.NewMenu("Model", modelItems...)
	quit := fyne.NewMenuItem("Quit", m.app.Quit)
	quit.IsQuit = true
	return fyne.NewMenu("Dictate",
		fyne.NewMenuItem(quick, m.ctl.QuickToggle),
		fyne.NewMenuItem(dictation, m.ctl.Toggle),
		fyne.NewMenuItem("Open window", func() { m.win.Show(); m.win.RequestFocus() }),
		fyne.NewMenuItemSeparator(),
		modelMenu,
		fyne.NewMenuItemSeparator(),
		quit,
	)
}

// refreshTray rebuilds the tray menu (Fyne thread).
func (m *MainWindow) refreshTray() {
	desk, ok := m.app.(desktop.App)
	if !ok || m.trayMenu == nil {
		return
	}
	fresh := m.TrayMenu()
	m.trayMenu.Items = fresh.Items
	desk.SetSystemTrayMenu(m.trayMenu)
}

// switchModel loads another installed model in the background (it can take seconds).
func (m *MainWindow) switchModel(name string) {
	m.State.SetText("Loading " + name + "…")
	m.bg.Add(1)
	go func() {
		defer m.bg.Done()
		err := m.ctl.UseModel(name)
		fyne.Do(func() {
			if err != nil {
				m.State.SetText("Model: " + err.Error())
			} else {
				m.State.SetText("Using " + name + ".")
			}
			m.Model.SetText(m.ctl.Status())
			m.Settings.Fill()
			m.refreshTray()
		})
	}()
}

var trayIcons = sync.OnceValue(func() [2]fyne.Resource {
	idle := fyne.NewStaticResource("icon.png", assets.Icon)
	return [2]fyne.Resource{idle, fyne.NewStaticResource("icon-recording.png", recordingIcon(assets.Icon))}
})

// trayIcon is the app icon, with a red dot while recording.
func trayIcon(recording bool) fyne.Resource {
	if recording {
		return trayIcons()[1]
	}
	return trayIcons()[0]
}

// recordingIcon draws a red dot in the lower right quarter of the icon.
func recordingIcon(icon []byte) []byte {
	src, err := png.Decode(bytes.NewReader(icon))
	if err != nil {
		return icon
	}
	b := src.Bounds()
	img := image.NewRGBA(b)
	draw.Draw(img, b, src, b.Min, draw.Src)
	r := b.Dx() / 5
	cx, cy := b.Max.X-r-r/3, b.Max.Y-r-r/3
	red := color.RGBA{R: 0xe0, G: 0x1b, B: 0x24, A: 0xff}
	white := color.RGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
	for y := cy - r - 3; y <= cy+r+3; y++ {
		for x := cx - r - 3; x <= cx+r+3; x++ {
			d := (x-cx)*(x-cx) + (y-cy)*(y-cy)
			switch {
			case d <= r*r:
				img.Set(x, y, red)
			case d <= (r+3)*(r+3):
				img.Set(x, y, white)
			}
		}
	}
	var out bytes.Buffer
	if err := png.Encode(&out, img); err != nil {
		return icon
	}
	return out.Bytes()
}
