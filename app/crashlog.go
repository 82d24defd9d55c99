package app

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/adrg/xdg"
)

// DefaultCrashDir is where crash reports are kept ($XDG_STATE_HOME/dictate).
func DefaultCrashDir() string { return filepath.Join(xdg.StateHome, "dictate") }

// KeepCrashReports makes a fatal error (an unrecovered panic, a runtime fault) leave its
// report in dir/crash.log as well as on stderr, which nobody reads when the app was started
// from the desktop. A report left by the last run is renamed crash-TIME.log and returned,
// so the app can say so at this start.
func KeepCrashReports(dir string) (previous string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "crash.log")
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		previous = filepath.Join(dir, "crash-"+st.ModTime().Format("20060102-150405")+".log")
		if err := os.Rename(path, previous); err != nil {
			return "", err
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return previous, err
	}
	defer f.Close() // the runtime keeps its own duplicate of the descriptor
	if err := debug.SetCrashOutput(f, debug.CrashOptions{}); err != nil {
		return previous, err
	}
	return previous, nil
}

// CrashNotice is what the user is told at the start after a crash.
func CrashNotice(report string) string {
	return fmt.Sprintf("Dictate stopped unexpectedly last time. The report is in %s; please attach it to a bug report.", report)
}
