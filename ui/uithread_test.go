package ui

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

// newTestApp is Fyne's test app with one UI thread, as the real driver has. The test driver
// runs each fyne.Do on its caller's goroutine, so two background jobs redrawing at once
// (an Apply ending while a file finishes) raced inside Fyne's caches, which the real app
// never does. Here fyne.Do and fyne.DoAndWait run one function at a time; one called from
// inside another runs at once, as on the UI thread.
func newTestApp(t testing.TB) fyne.App {
	a := test.NewTempApp(t)
	one := &uiThreadApp{App: a, drv: uiThreadDriver{Driver: a.Driver(), thread: new(uiThread)}}
	fyne.SetCurrentApp(one)
	return one
}

type uiThreadApp struct {
	fyne.App
	drv uiThreadDriver
}

func (a *uiThreadApp) Driver() fyne.Driver { return a.drv }

type uiThreadDriver struct {
	fyne.Driver
	thread *uiThread
}

func (d uiThreadDriver) DoFromGoroutine(f func(), _ bool) { d.thread.run(f) }

type uiThread struct {
	mu    sync.Mutex
	owner atomic.Uint64 // the goroutine running on the thread now, 0 for none
}

func (u *uiThread) run(f func()) {
	me := goroutineID()
	if u.owner.Load() == me {
		f()
		return
	}
	u.mu.Lock()
	u.owner.Store(me)
	defer func() {
		u.owner.Store(0)
		u.mu.Unlock()
	}()
	f()
}

// goroutineID reads the caller's goroutine number from its stack header
// ("goroutine 42 [running]:"); Go offers no other way, and tests only need equality.
func goroutineID() uint64 {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	buf = bytes.TrimPrefix(buf, []byte("goroutine "))
	id, _ := strconv.ParseUint(string(buf[:bytes.IndexByte(buf, ' ')]), 10, 64)
	return id
}
