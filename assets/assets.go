// Package assets holds the files the app embeds: its icon.
package assets

import _ "embed"

// Icon is the app icon (256×256 PNG), also named in FyneApp.toml.
//
//go:embed icon.png
var Icon []byte
