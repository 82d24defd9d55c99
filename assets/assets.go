// Package assets holds the files the app embeds: its icon and its start/stop cues.
package assets

import _ "embed"

// Icon is the app icon (256×256 PNG), also named in FyneApp.toml.
//
//go:embed icon.png
var Icon []byte

// StartSound and StopSound are the cues played when a take starts and stops (16 kHz mono
// 16-bit WAV, 140 ms; make-sounds.sh makes them).
//
//go:embed start.wav
var StartSound []byte

//go:embed stop.wav
var StopSound []byte
