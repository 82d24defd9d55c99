//go:build !linux

package ui

import (
	"errors"
	"fmt"
)

// NewOverlaySurface: the overlay is drawn on X11 (and XWayland) only so far; elsewhere the
// Dictate window shows the live text.
func NewOverlaySurface() (OverlaySurface, error) {
	return nil, fmt.Errorf("overlay: %w", errors.ErrUnsupported)
}
