// Command dictate: hold a hotkey, speak, release, and the words are typed where you work.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/dictate-app/dictate/app"
	"github.com/dictate-app/dictate/cli"
	"github.com/dictate-app/dictate/ui"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	c := &cli.CLI{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		IsTerminal:  isTerminal(os.Stderr),
		Interactive: isTerminal(os.Stderr) && isTerminal(os.Stdin),
		GUI:         func(ctx context.Context, d *app.Desktop) error { return ui.Run(ctx, d) },
	}
	code := c.Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
