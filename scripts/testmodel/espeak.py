"""espeak-ng through its library: the same voice as the command, plus where each word
starts in the audio (its WORD events), which the command does not tell."""

import ctypes

import numpy as np

_SYNCHRONOUS = 2
_EVENT_WORD, _EVENT_PHONEME, _EVENT_LIST_TERMINATED = 1, 7, 0
_INITIALIZE_PHONEME_EVENTS = 1
_RATE, _PITCH = 1, 3


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class Speaker:
    """One per process: the library keeps global state."""

    def __init__(self):
        self.lib = ctypes.CDLL("libespeak-ng.so.1")
        self.rate = self.lib.espeak_Initialize(_SYNCHRONOUS, 0, None, _INITIALIZE_PHONEME_EVENTS)
        if self.rate <= 0:
            raise RuntimeError("espeak-ng did not initialise")
        self._chunks, self._words, self._phonemes = [], [], []
        self._cb = _CALLBACK(self._collect)  # kept: the library holds the pointer
        self.lib.espeak_SetSynthCallback(self._cb)

    def _collect(self, wav, n, events):
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            if events[i].type == _EVENT_WORD:
                self._words.append(events[i].audio_position)
            elif events[i].type == _EVENT_PHONEME:
                self._phonemes.append((events[i].audio_position, events[i].id.decode(errors="replace")))
            i += 1
        return 0

    def speak(self, text, voice="en", speed=175, pitch=50):
        """Audio (float32 at self.rate), each word's start in seconds, and each phoneme's
        (start in seconds, espeak-ng's name for it)."""
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice!r}")
        self.lib.espeak_SetParameter(_RATE, speed, 0)
        self.lib.espeak_SetParameter(_PITCH, pitch, 0)
        self._chunks, self._words, self._phonemes = [], [], []
        b = text.encode() + b"\0"
        if self.lib.espeak_Synth(b, len(b), 0, 1, 0, 0, None, None) != 0:
            raise RuntimeError(f"espeak-ng failed on {text!r}")
        self.lib.espeak_Synchronize()
        audio = np.concatenate(self._chunks).astype(np.float32) / 32768 if self._chunks else np.zeros(0, np.float32)
        return audio, [ms / 1000 for ms in self._words], [(ms / 1000, p) for ms, p in self._phonemes]
