//go:build !linux

package hotkey

// ResolveBackend is the backend Listen uses for the one asked for: the system's.
func ResolveBackend(backend string) string {
	if backend == "" {
		return "system"
	}
	return backend
}
