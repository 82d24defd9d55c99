package hotkey

import "golang.design/x/hotkey"

var altMod, superMod = hotkey.ModAlt, hotkey.ModWin

const platformName = "Windows"
