//go:build !linux

package app

import "net"

// sameUser relies on the socket's folder (0700) where the peer's user cannot be asked.
func sameUser(*net.UnixConn) error { return nil }
