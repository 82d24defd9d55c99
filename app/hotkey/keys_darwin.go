package hotkey

import "golang.design/x/hotkey"

// macOS names Alt "Option" and Super "Command".
var altMod, superMod = hotkey.ModOption, hotkey.ModCmd

const platformName = "macOS"
