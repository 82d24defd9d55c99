package textout

import (
	"context"
	"fmt"

	sysclip "golang.design/x/clipboard"
)

// systemClipboard is the X11 clipboard (also what GNOME's XWayland shares with Wayland
// applications), or the macOS and Windows one.
type systemClipboard struct{}

func openSystemClipboard() (systemClipboard, error) {
	if err := sysclip.Init(); err != nil {
		return systemClipboard{}, fmt.Errorf("no clipboard: %w", err)
	}
	return systemClipboard{}, nil
}

func (systemClipboard) Read(ctx context.Context) (Content, error) {
	text, err := sysclip.Read(ctx, sysclip.FmtText)
	if err == nil && len(text) > 0 {
		return Content{Text: string(text)}, nil
	}
	image, _ := sysclip.Read(ctx, sysclip.FmtImage)
	return Content{Image: image}, nil
}

func (systemClipboard) Write(ctx context.Context, c Content) (<-chan struct{}, error) {
	if c.Text == "" && len(c.Image) > 0 {
		return sysclip.Write(ctx, sysclip.FmtImage, c.Image)
	}
	return sysclip.Write(ctx, sysclip.FmtText, []byte(c.Text))
}
