package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dictate-app/dictate/app"
)

// ctl drives the running listen or gui: the compositor's own key bindings use it where no
// global hotkey can be grabbed (bindsym F9 exec dictate ctl press, …).
func (c *CLI) ctl(args []string) error {
	if len(args) != 1 || !slices.Contains(app.ControlCommands, args[0]) {
		return usageError{"ctl needs one of: " + strings.Join(app.ControlCommands, ", ")}
	}
	reply, err := app.SendControl(app.DefaultControlPath(), args[0])
	if err != nil {
		return err
	}
	fmt.Fprintln(c.Stdout, reply)
	return nil
}
