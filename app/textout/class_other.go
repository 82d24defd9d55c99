//go:build !linux

package textout

// FocusedWindowClasses is only known on X11; elsewhere the platform's paste chord is used.
func FocusedWindowClasses() []string { return nil }
