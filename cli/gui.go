package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/dictate-app/dictate/app"
)

// gui opens the Desktop and hands it to the GUI until the window quits.
func (c *CLI) gui(ctx context.Context, args []string) error {
	if c.GUI == nil {
		return usageError{"this build has no GUI"}
	}
	fs := c.newFlagSet("gui", "gui [--model M] [--hotkey SPEC] [--mode MODE] [--output type|paste] [flags]")
	interactive := c.Interactive
	c.Interactive = false // no terminal prompt: the window offers the download
	cfg, set, notice, err := c.sessionFlags(ctx, fs, args)
	c.Interactive = interactive
	var noModel noModelError
	if err != nil && !errors.As(err, &noModel) {
		return err
	}
	m, err := c.modelManager("")
	if err != nil {
		return err
	}
	control := app.DefaultControlPath()
	if reply, err := app.SendControl(control, "status"); err == nil {
		return fmt.Errorf("%w (%s); its window is in the tray", app.ErrAlreadyRunning, reply)
	}
	d, err := app.OpenDesktop(ctx, app.DesktopConfig{Session: cfg, Settings: set, SettingsPath: app.SettingsPath(), Manager: m,
		Recommended: noModel.recommended, Notices: nonEmpty(notice, c.keepCrashReports()), Log: c.log})
	if err != nil {
		return err
	}
	defer d.Close()
	if server, err := app.ServeControl(control, d.Control()); err != nil {
		c.log.Warn("dictate ctl will not reach this instance", "err", err)
	} else {
		defer server.Close()
	}
	return c.GUI(ctx, d)
}

func nonEmpty(s ...string) []string {
	return slices.DeleteFunc(s, func(x string) bool { return x == "" })
}

// keepCrashReports makes a fatal error leave a report for the next start (dictate gui and
// listen run for hours, often with nobody reading stderr), and returns the notice about
// the last run's crash, if it had one.
func (c *CLI) keepCrashReports() string {
	previous, err := app.KeepCrashReports(app.DefaultCrashDir())
	if err != nil {
		c.log.Warn("crash reports will not be kept", "err", err)
	}
	if previous == "" {
		return ""
	}
	return app.CrashNotice(previous)
}
