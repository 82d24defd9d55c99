package ui

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"sync"

	"fyne.io/fyne/v2"

	"github.com/dictate-app/dictate/assets"
)

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
