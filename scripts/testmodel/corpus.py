"""The speech corpus for the test models: sentences over a small vocabulary, spoken by
espeak-ng in several voices, speeds and pitches, resampled to 16 kHz.

Sentences are random word sequences (no language prior to lean on: the model must hear
every word). The held-out sentences are drawn first, and training sentences that repeat one
are drawn again, so no held-out word sequence occurs in training.
"""

import multiprocessing
import random

import numpy as np

import espeak

SAMPLE_RATE = 16000

# Common English words without homophones inside the list or with the digits (two/to/too,
# four/for, eight/ate, one/won): a word that sounds like another could never be scored.
# Four slipped in: "six" and "three" (scored as their digits, see scored()), and where/wear
# and I/eye (espeak-ng says each pair with the same phonemes, stress aside). Changing the
# list changes every id and sentence drawn, so it waits for a training run from scratch.
WORDS = """
a about after again air all also always am an and animal another answer any are area
around as ask at away back bad ball be because bed been before began begin being below
best better big bird black blue boat body book both box boy bring brown build but
call came can car care carry cat change child children city class clean close cold color
come could country cut dark day did different do does dog done door down draw dream drink
drive during early earth easy eat end enough even every example eye face fall family far
farm fast father feel few field find fine fire first fish fly food foot found free friend
from full game garden gave get girl give glass go gold good got great green ground group
grow had half hand happy hard has hat have he head help her high hill him his hold home
horse hot house how I if important in into is it just keep kind king land large last late
laugh learn leave left let letter life light like line list listen little live long look
lost lot love low made make man many map may me mean men might mile milk mind minute miss
money moon more morning most mother mountain move much music must my name near need never
next nice night no north not now number of off often old on once only open or other out
over own page paper park part party people picture place plan plant play please point poor
press pull put question quick quiet rain ran reach ready river road rock room round run
said same saw say school second seem send set she ship shop short should show side simple
sing sister sit six small snow so some song soon sound south speak spring stand star start
stay still stone stop story street strong study such summer table take talk tall teacher
tell than that the them then these they thing think this those three through time today
together told took top town tree true try turn under until up upon us use very voice walk
wall want warm was watch water we wear well went were what when where which while white
who whole why will wind window winter with without woman word work world year yellow yes
yet you young
""".split()

DIGITS = [str(d) for d in range(10)]
PUNCT = [",", ".", "?"]
# whisper.cpp looks these up by text; they are never produced.
REQUIRED = [" ", " -", " '"]


def token_texts():
    """The vocabulary as whisper token texts, in id order."""
    return REQUIRED + [" " + w for w in WORDS] + [" " + d for d in DIGITS] + PUNCT


# Voices for training: espeak-ng's own English voices and variants (mbrola voices need a
# program Debian does not install). Tests speak with the default voice, so it is weighted.
VOICES = ["en", "en", "en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc",
          "en+m3", "en+f2", "en-us+f4", "en+m7", "en-us+m2", "en+f3"]
HELD_OUT_VOICES = ["en", "en", "en-us", "en+f2", "en-gb-x-rp", "en+m3"]


def sentence(rng, n_words):
    words = []
    for _ in range(n_words):
        words.append(rng.choice(DIGITS) if rng.random() < 0.06 else rng.choice(WORDS))
    text = ""
    for i, w in enumerate(words):
        text += (" " if i else "") + w
        if i < len(words) - 1 and i > 0 and rng.random() < 0.08:
            text += ","
    return text + ("?" if rng.random() < 0.2 else ".")


def tokens_of(text):
    """Token texts of a sentence made by sentence()."""
    out = []
    for piece in text.split(" "):
        core = piece.rstrip(",.?")
        out.append(" " + core)
        out.extend(piece[len(core):])
    return out


def normalise(text):
    """Lowercase words without punctuation: what WER is measured on."""
    return [w.strip(",.?!\"'").lower() for w in text.split() if w.strip(",.?!\"'")]


DIGIT_NAMES = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4",
               "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}


def scored(text):
    """Words as WER scores them (as internal/wer does): normalise's, a digit's name as the
    digit. "six" and "6", "three" and "3" are both in the vocabulary and are the same
    speech, so no model can tell them apart; Whisper's English normaliser scores them alike."""
    return [DIGIT_NAMES.get(w, w) for w in normalise(text)]


def sentences(seed, n_train, n_held):
    rng = random.Random(seed)
    held = []
    seen = set()
    while len(held) < n_held:
        s = sentence(rng, rng.randint(2, 12))
        key = tuple(normalise(s))
        if key not in seen:
            seen.add(key)
            held.append(s)
    train = []
    while len(train) < n_train:
        s = sentence(rng, rng.randint(1, 12))
        if tuple(normalise(s)) not in seen:
            train.append(s)
    return train, held


def resample(x, rate):
    """Band-limited resampling to 16 kHz through the FFT (clips are short)."""
    if rate == SAMPLE_RATE:
        return x
    n_out = int(round(len(x) * SAMPLE_RATE / rate))
    spec = np.fft.rfft(x)
    keep = n_out // 2 + 1
    out = np.fft.irfft(spec[:keep], n_out) * (n_out / len(x))
    return out.astype(np.float32)


_speaker = None


def speak(text, voice="en", speed=175, pitch=50):
    """espeak-ng's audio for text (16 kHz float32, silence trimmed at both ends) and where
    each word starts in it (seconds)."""
    global _speaker
    if _speaker is None:
        _speaker = espeak.Speaker()
    x, starts, phonemes = _speaker.speak(text, voice, speed, pitch)
    x = resample(x, _speaker.rate)
    loud = np.nonzero(np.abs(x) > 2e-3)[0]
    if len(loud) == 0:
        raise ValueError(f"espeak-ng said nothing for {text!r}")
    a, b = max(0, loud[0] - 80), loud[-1] + 80
    shift = lambda t: max(0.0, t - a / SAMPLE_RATE)
    return x[a:b], [shift(t) for t in starts], [(shift(t), phone_name(p)) for t, p in phonemes]


def phone_name(p):
    """espeak-ng's phoneme name without stress marks; pauses are silence ("")."""
    p = p.strip("',")
    return "" if p.startswith("_") else p


def _speak(p):
    return speak(*p)


def synthesise(texts, seed, voices, workers=2):
    """Spoken clips for texts, each with its own voice, speed and pitch, their word starts
    (None where espeak-ng's word count differs from the text's) and phonemes (start, name)."""
    rng = random.Random(seed)
    params = [(t, rng.choice(voices), rng.randint(140, 200), rng.randint(35, 65)) for t in texts]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        spoken = pool.map(_speak, params, chunksize=64)
    clips = [c for c, _, _ in spoken]
    starts = [w if len(w) == len(normalise(t)) else None for (_, w, _), t in zip(spoken, texts)]
    phones = [p for _, _, p in spoken]
    return clips, starts, phones, [p[1:] for p in params]
