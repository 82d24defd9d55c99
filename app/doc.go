// Package app owns Dictate's flows: push-to-talk dictation (hotkey, microphone, engine,
// text output, history), file transcription, the desktop's model and session (Desktop,
// which ui/ renders), settings and crash reports. It never imports Fyne or C; the command
// line that drives it lives in cli/.
package app
