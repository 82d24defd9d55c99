//go:build !linux

// Command textwin is the X11 end-to-end tests' target window; it exists on Linux only.
package main

import "log"

func main() { log.Fatal("textwin is an X11 test window for Linux") }
