package textout

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dictate-app/dictate/internal/testenv"
)

// GNOME's path on headless mutter: no virtual keyboard for clients, so the RemoteDesktop
// portal types. The first run asks the user (the test answers the portal's dialog through
// AT-SPI: it turns on "Allow Remote Interaction" and clicks Share), keeps the restore
// token at 0600, and types into a native GTK window (zenity's text view, read back through
// AT-SPI): ASCII as keysyms, the rest pasted through the session's clipboard, with the
// user's clipboard put back. A second run restores the token and asks nothing.
// portalSession starts GNOME's session on layout, answers the portal's consent and opens
// the GTK target: the inserter, what the target holds, and the restore token's path.
func portalSession(t *testing.T, layout string) (*Inserter, func(want string), string) {
	t.Helper()
	m := testenv.StartMutter(t, layout)
	m.Use(t)
	// The session has the layout asked for (XWayland shares the seat's keymap).
	sample := map[string]uint32{"us": 'y', "de": 0xdf /* ß */, "fr": 0xe9 /* é */, "ru": 0x6c1 /* Cyrillic_a */}[layout]
	if !testenv.WaitFor(10*time.Second, func() bool { return layoutKeysyms()[sample] }) {
		t.Fatalf("mutter's keymap lacks %#x: the %s layout did not apply", sample, layout)
	}
	token := filepath.Join(t.TempDir(), "remote-desktop-token")
	w := testenv.NewWitness(t, m.Socket)
	a := m.A11y(t)

	type opened struct {
		out *Inserter
		err error
	}
	result := make(chan opened, 1)
	go func() {
		out, err := New(Config{Mode: "type", TokenPath: token})
		result <- opened{out, err}
	}()
	w.WaitFocus(t, false) // the consent dialog
	a.Do(t, "Allow Remote Interaction", "switch")
	a.Do(t, "Share", "button")
	r := <-result
	if r.err != nil {
		t.Fatal(r.err)
	}
	out := r.out
	if b := out.Backend(); b.Name != "portal" || b.Clipboard != "RemoteDesktop portal" {
		t.Fatalf("backend %v", b)
	}
	st, err := os.Stat(token)
	if err != nil || st.Mode().Perm() != 0o600 || st.Size() < 8 {
		t.Fatalf("restore token: %v %v", st, err)
	}
	w.WaitFocus(t, true)

	// The target: a GTK text view that takes the focus.
	zenity := exec.Command(testenv.Tool(t, "zenity"), "--text-info", "--editable", "--title=target")
	zenity.Env = m.Env()
	if err := zenity.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zenity.Process.Kill(); zenity.Wait() })
	w.WaitFocus(t, false)
	holds := func(want string) {
		t.Helper()
		if !testenv.WaitFor(20*time.Second, func() bool { return a.Text("zenity", "text box") == want }) {
			t.Fatalf("the GTK text view holds %q, want %q", a.Text("zenity", "text box"), want)
		}
	}

	return out, holds, token
}

func TestE2EWaylandPortal(t *testing.T) {
	out, holds, token := portalSession(t, "us")
	text := strings.Repeat("Typed into GTK through the portal. ", 6)[:200]
	start := time.Now()
	if err := out.Insert(context.Background(), text); err != nil {
		t.Fatal(err)
	}
	holds(text)
	t.Logf("200 characters typed through the RemoteDesktop portal: %v", time.Since(start).Round(time.Millisecond))

	// What no key of the layout types goes through the clipboard, and what the user had
	// copied (here in an X11 application) is put back.
	user, err := openSystemClipboard()
	if err != nil {
		t.Fatal(err)
	}
	const kept = "copied by the user"
	// mutter now and then never announces an X11 copy (measured once in three full runs:
	// no owner change within 20 s), as if it missed the X server's notice; a user copies
	// again, and so does the test, every 5 s.
	var seen Content
	var readErr error
	var copied time.Time
	copies := 0
	if !testenv.WaitFor(20*time.Second, func() bool {
		if time.Since(copied) > 5*time.Second {
			if _, err := user.Write(context.Background(), Content{Text: kept}); err != nil {
				t.Fatal(err)
			}
			copied, copies = time.Now(), copies+1
		}
		seen, readErr = out.clip.Read(context.Background())
		return seen.Text == kept
	}) {
		t.Fatalf("the portal does not see what an X11 application copied (%d times): it reads %q (%v)", copies, seen.Text, readErr)
	}
	if copies > 1 {
		t.Logf("mutter saw the X11 copy only after %d copies", copies)
	}
	start = time.Now()
	if err := out.Insert(context.Background(), layoutSentence); err != nil {
		t.Fatal(err)
	}
	holds(text + layoutSentence)
	t.Logf("the layout sentence pasted through the portal: %v", time.Since(start).Round(time.Millisecond))
	out.Wait()
	if c, err := user.Read(context.Background()); err != nil || c.Text != kept {
		t.Fatalf("after the paste the X11 clipboard holds %q (%v), want %q back", c.Text, err, kept)
	}
	out.Close()

	// The next start restores the consent: no dialog, nothing to answer.
	again, err := New(Config{Mode: "type", TokenPath: token})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if err := again.Insert(context.Background(), " Second run."); err != nil {
		t.Fatal(err)
	}
	holds(text + layoutSentence + " Second run.")
}

// The portal types the layout sentence exactly on GNOME whatever the layout: keysyms where
// the layout holds every character, the clipboard otherwise (a Russian layout holds no
// Latin letters).
func TestLayoutPortal(t *testing.T) {
	for _, layout := range []string{"de", "fr", "ru"} {
		t.Run(layout, func(t *testing.T) {
			out, holds, _ := portalSession(t, layout)
			defer out.Close()
			start := time.Now()
			if err := out.Insert(context.Background(), layoutSentence); err != nil {
				t.Fatal(err)
			}
			holds(layoutSentence)
			t.Logf("%s: %v", layout, time.Since(start).Round(time.Millisecond))
		})
	}
}
