"""Trains the test models: a Whisper-architecture teacher (4 decoder layers) on synthetic
speech, then a student the Distil-Whisper way (the teacher's encoder copied and frozen, a
2-layer decoder from the teacher's first and last, trained on the teacher's pseudo-labels
with KL plus cross-entropy), and writes both as whisper.cpp ggml files.

Run through scripts/train-test-model, which gives it PyTorch in a root of its own.
"""

import argparse
import copy
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import corpus  # noqa: E402
import ggml  # noqa: E402
from model import LogMel, Vocab, Whisper  # noqa: E402

SR = corpus.SAMPLE_RATE
IGNORE = -100


def wer(ref, hyp):
    """Word error rate between two word lists (edit distance over the reference length)."""
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[len(hyp)], len(ref)


class Data:
    """Training windows: a sentence after a short lead, sometimes the start of the next
    one after a pause (timestamp mode: labelled by its start time only, as Whisper marks a
    segment the window cuts), room noise, gain; noise-only windows labelled no-speech;
    windows full of sentences, labelled whole or (pointer_p) up to the next one's start."""

    def __init__(self, clips, starts, phones, inventory, texts, vocab, seed):
        self.clips, self.starts, self.texts, self.vocab = clips, starts, texts, vocab
        self.phones, self.inventory = phones, inventory
        self.silence = len(inventory)
        self.rng = random.Random(seed)
        # Share of single sentences that start at the window's very start (speech 0-50 ms
        # in), as espeak-ng's clips and a take cut at its first word do; 0 leaves the rng's
        # stream as the runs before this share existed drew it.
        self.onset_p = 0.0
        # Share of timestamped windows full of speech that label only their first sentence
        # or two and then the next one's start time: whisper.cpp seeks to a window's last
        # timestamp, so a model that does this well transcribes a long recording sentence
        # by sentence, where this small model loses windows it must transcribe whole.
        self.pointer_p = 0.0
        # Share of windows heard through a resampler's anti-alias filter: the corpus is
        # resampled through the FFT (flat to 8 kHz), where the app's resampler and others
        # roll off from 7-7.5 kHz; the small model trained on one lost words to the other.
        self.band_p = 0.0
        self.nprng = np.random.default_rng(seed)
        self.tokens = [[vocab.index[t] for t in corpus.tokens_of(s)] for s in texts]
        self.n_words = [sum(t.startswith(" ") for t in corpus.tokens_of(s)) for s in texts]

    def noise(self, n):
        white = self.nprng.standard_normal(n).astype(np.float32)
        if self.rng.random() < 0.5:  # pink-ish: a leaky integrator
            white = np.cumsum(white) * 0.02
            white -= np.convolve(white, np.ones(801) / 801, mode="same")
        level = 10 ** (self.rng.uniform(-72, -42) / 20)
        return white / (np.sqrt(np.mean(white ** 2)) + 1e-9) * level

    def band_limit(self, x):
        """x through a low-pass filter as resamplers have: flat to a cut-off of 6.6-7.9 kHz,
        then a raised-cosine fall over 0.15-0.6 kHz to nothing."""
        fc, width = self.rng.uniform(6600, 7900), self.rng.uniform(150, 600)
        f = np.fft.rfftfreq(len(x), 1 / SR)
        ramp = np.clip((f - (fc - width / 2)) / width, 0, 1)
        gain = 0.5 * (1 + np.cos(np.pi * ramp))
        return np.fft.irfft(np.fft.rfft(x) * gain, len(x)).astype(np.float32)

    def lead_room(self, most):
        """The most seconds of quiet before a window's first sentence."""
        if self.onset_p and self.rng.random() < self.onset_p:
            return min(most, 0.05)
        return most

    def layout(self, W, max_words, ts_mode, multi):
        """Where sentences go in a window of W samples: [(clip, start)] spoken whole and
        labelled, the clip and start of the one labelled by its start time alone (timestamp
        mode only) or None, and [(clip, start)] heard after it, unlabelled.
        multi: speech as in a long recording, sentence after sentence with pauses;
        otherwise one sentence after a lead, sometimes the start of the next after it."""
        rng = self.rng
        pointer = ts_mode and self.pointer_p and rng.random() < self.pointer_p
        if multi or pointer:
            placed, cut = [], None
            t = int(rng.uniform(0, self.lead_room(1.0)) * SR)
            while t < W - 0.3 * SR:
                i = rng.randrange(len(self.clips))
                if t + len(self.clips[i]) > W - 0.05 * SR:
                    cut = (i, t) if ts_mode else None
                    break
                placed.append((i, t))
                t += len(self.clips[i]) + int(rng.uniform(0.15, 1.5) * SR)
            speech = placed + ([cut] if cut else [])
            k = rng.choice((1, 1, 2)) if pointer else 0
            if pointer and len(speech) > k:
                return speech[:k], speech[k], speech[k + 1:]
            if placed:
                return placed, cut, []
        for _ in range(100):
            i = rng.randrange(len(self.clips))
            if self.n_words[i] <= max_words and len(self.clips[i]) < W - 0.15 * SR:
                break
        lead = int(rng.uniform(0, self.lead_room(min(1.0, (W - len(self.clips[i])) / SR - 0.1))) * SR)
        cut = None
        if ts_mode and rng.random() < 0.35:
            start2 = lead + len(self.clips[i]) + int(rng.uniform(0.3, 1.5) * SR)
            if start2 < W - 0.3 * SR:
                cut = (rng.randrange(len(self.clips)), start2)
        return [(i, lead)], cut, []

    def item(self, n_ctx, max_words, empty_p=0.06, ts_p=0.7, multi_p=0.0, prompt_p=0.0):
        """A window's audio, decoder input and labels, each frame's phoneme and word, and
        the pointing head's spans (label position, first frame, end frame)."""
        v, rng = self.vocab, self.rng
        # A prompt, as Whisper is trained and whisper.cpp runs it: <|startofprev|>, the end
        # of earlier text (dictation prompts each pass with what it committed), then the
        # transcript. It teaches nothing to predict; the model learns to read past it.
        pre = []
        if rng.random() < prompt_p:
            for _ in range(rng.randint(1, 4)):
                pre += self.tokens[rng.randrange(len(self.tokens))]
            pre = [v.prev] + pre[-rng.randint(3, 60):]
        out = self._item(n_ctx, max_words, empty_p, ts_p, multi_p)
        if not pre:
            return out
        audio, inp, lab, frames, spans, words = out
        return (audio, pre + inp, [IGNORE] * len(pre) + lab, frames,
                [(p + len(pre), a, b) for p, a, b in spans], words)

    def _item(self, n_ctx, max_words, empty_p, ts_p, multi_p):
        v, rng = self.vocab, self.rng
        W = n_ctx * 320
        ts_mode = rng.random() < ts_p
        audio = np.zeros(W, dtype=np.float32)
        frames = np.full(n_ctx, IGNORE, dtype=np.int64)
        words = np.full(n_ctx, IGNORE, dtype=np.int64)
        if rng.random() < empty_p:
            take = int(rng.uniform(0.5, W / SR) * SR)
            audio[:take] = self.noise(take) * (10 ** (rng.uniform(0, 25) / 20))
            frames[:] = self.silence
            words[:] = v.n_text
            if ts_mode:
                return audio, [v.sot, v.timestamp(0)], [v.nosp, v.eot], frames, [], words
            return audio, [v.sot, v.not_], [IGNORE, v.nosp], frames, [], words
        placed, cut, heard = self.layout(W, max_words, ts_mode, rng.random() < multi_p)
        gain = rng.uniform(0.15, 1.0)
        for i, at in placed + ([cut] if cut else []) + heard:
            clip = self.clips[i][: W - at] * gain * rng.uniform(0.7, 1.0)
            if rng.random() < 0.1:  # the speaker moves: a gain ramp
                clip = clip * np.linspace(rng.uniform(0.4, 1), rng.uniform(0.4, 1), len(clip), dtype=np.float32)
            audio[at:at + len(clip)] = clip
        last_end = placed[-1][1] + len(self.clips[placed[-1][0]])
        take = W if cut else min(W, last_end + int(rng.uniform(0.05, 1.0) * SR))
        audio[:take] += self.noise(take)
        audio[take:] = 0
        if self.band_p and rng.random() < self.band_p:
            audio[:take] = self.band_limit(audio[:take])
        # Labels: Whisper's layout, each sentence a segment between its start and end
        # times, a cut one marked by its start time alone; without timestamps, the words.
        seq, firsts = [], []
        for i, at in placed:
            if ts_mode:
                seq.append(v.timestamp(at / SR))
            firsts.append(len(seq) + (0 if ts_mode else 1))  # label position of its first token
            seq.extend(self.tokens[i])
            if ts_mode:
                seq.append(v.timestamp((at + len(self.clips[i])) / SR))
        if cut:
            seq.append(v.timestamp(cut[1] / SR))
        if ts_mode:
            inp, lab = [v.sot] + seq, seq + [v.eot]
        else:
            inp, lab = [v.sot, v.not_] + seq, [IGNORE] + seq + [v.eot]
        # The phoneme and the word each encoder frame (20 ms) hears; the cut sentence's
        # frames are left out.
        fr = lambda sample: min(n_ctx, int(sample / 320))
        known = fr(cut[1] if cut else take)
        frames[:known] = self.silence
        words[:known] = v.n_text
        spans = []
        for (i, at), first in zip(placed, firsts):
            end = at + len(self.clips[i])
            phones = self.phones[i]
            for k, (t, name) in enumerate(phones):
                t_next = phones[k + 1][0] if k + 1 < len(phones) else len(self.clips[i]) / SR
                a, b = fr(at + int(t * SR)), fr(at + int(t_next * SR))
                frames[a:max(a + 1, b)] = self.inventory.get(name, self.silence)
            starts, toks = self.starts[i], self.tokens[i]
            if starts is None:
                words[fr(at):fr(end)] = IGNORE
                continue
            bounds = [at + int(t * SR) for t in starts] + [end]
            pos = [first + k for k, t in enumerate(toks) if v.texts[t].startswith(" ")]
            for k, p in enumerate(pos):
                a, b = fr(bounds[k]), max(fr(bounds[k]) + 1, fr(bounds[k + 1]))
                spans.append((p, a, b))
                words[a:b] = toks[p - first]
        return audio, inp, lab, frames, spans, words

    def batch(self, n_ctx, size, max_words, **kw):
        items = [self.item(n_ctx, max_words, **kw) for _ in range(size)]
        return collate(items, self.vocab)


def collate(items, vocab):
    audio = torch.from_numpy(np.stack([it[0] for it in items]))
    L = max(len(it[1]) for it in items)
    inp = torch.full((len(items), L), vocab.eot, dtype=torch.long)
    lab = torch.full((len(items), L), IGNORE, dtype=torch.long)
    for k, it in enumerate(items):
        inp[k, : len(it[1])] = torch.tensor(it[1])
        lab[k, : len(it[2])] = torch.tensor(it[2])
    frames = torch.from_numpy(np.stack([it[3] for it in items]))
    guide = torch.zeros(len(items), L, frames.shape[1], dtype=torch.bool)
    for k, it in enumerate(items):
        for p, a, b in it[4]:
            guide[k, p, a:b] = True
    words = torch.from_numpy(np.stack([it[5] for it in items]))
    return audio, inp, lab, (frames, words), guide


def frame_loss(model, xa, frames):
    phones, words = frames
    return (F.cross_entropy(model.frame_head(xa).flatten(0, 1), phones.flatten(), ignore_index=IGNORE) +
            0.5 * F.cross_entropy(model.word_head(xa).flatten(0, 1), words.flatten(), ignore_index=IGNORE))


def guide_loss(weights, guide):
    """The pointing head's attention mass outside the word being said (-log of inside)."""
    rows = guide.any(-1)
    if not rows.any():
        return weights.sum() * 0
    inside = (weights * guide).sum(-1)[rows]
    return -torch.log(inside + 1e-4).mean()


def lr_at(step, total, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))


def schedule(step, total, start=0.0, long=False):
    """Curriculum: short sentences and 5 s windows first; dictation (10 s) and file (30 s)
    windows in the last part, so whisper.cpp's full window is familiar. start skips ahead
    (a continued run starts where the first left its curriculum). long: a run on speech as
    long recordings have it, windows full of sentences and pauses, half of them 30 s.
    Returns the window (frames), the batch size, the most words a sentence has, and the
    share of windows full of sentences."""
    r = (step * 7919) % 10
    if long:
        if r < 3:
            return 256, 24, 12, 0.0
        if r < 5:
            return 512, 12, 12, 0.6
        return 1500, 4, 12, 0.85
    p = start + (1 - start) * step / total
    max_words = 3 + int(9 * min(1.0, p / 0.3))
    if p < 0.55 or r < 4:
        return 256, 24, max_words, 0.0
    if r < 8:
        return 512, 12, max_words, 0.0
    return 1500, 4, max_words, 0.0


def evaluate(model, mel, clips, texts, vocab, n_ctx=256, limit=64, ts_mode=True, lead=0.3):
    """Greedy WER on held-out sentences that fit the window, each after lead seconds of
    quiet (0: the clip as espeak-ng made it, speech 0-56 ms in)."""
    model.eval()
    errs = words = 0
    idx = [i for i in range(len(clips)) if len(clips[i]) < n_ctx * 320 - (lead + 0.1) * SR][:limit]
    prefix = [vocab.sot] if ts_mode else [vocab.sot, vocab.not_]
    for s in range(0, len(idx), 16):
        chunk = idx[s:s + 16]
        audio = np.zeros((len(chunk), n_ctx * 320), dtype=np.float32)
        for k, i in enumerate(chunk):
            audio[k, int(lead * SR): int(lead * SR) + len(clips[i])] = clips[i]
        with torch.no_grad():
            xa = model.encoder(mel(torch.from_numpy(audio), 2 * n_ctx))
        for k, toks in enumerate(model.greedy(xa, prefix)):
            hyp = "".join(vocab.texts[t] for t in toks if t < vocab.n_text)
            e, n = wer(corpus.scored(texts[chunk[k]]), corpus.scored(hyp))
            errs, words = errs + e, words + n
    model.train()
    return errs / max(1, words)


def evaluate_long(model, mel, clips, texts, vocab, windows=8, ts_mode=True):
    """Greedy WER on 30 s windows full of held-out sentences with pauses between them,
    as a long recording has them (sentences the window would cut are left out)."""
    model.eval()
    rng = random.Random(5)
    W = 1500 * 320
    audio = np.zeros((windows, W), dtype=np.float32)
    refs = []
    for k in range(windows):
        t, ref = int(0.3 * SR), []
        while True:
            i = rng.randrange(len(clips))
            if t + len(clips[i]) > W - 0.2 * SR:
                break
            audio[k, t:t + len(clips[i])] = clips[i]
            ref += corpus.scored(texts[i])
            t += len(clips[i]) + int(rng.uniform(0.3, 1.2) * SR)
        refs.append(ref)
    with torch.no_grad():
        xa = model.encoder(mel(torch.from_numpy(audio), 3000))
    prefix = [vocab.sot] if ts_mode else [vocab.sot, vocab.not_]
    errs = words = 0
    for ref, toks in zip(refs, model.greedy(xa, prefix, max_len=224)):
        hyp = "".join(vocab.texts[t] for t in toks if t < vocab.n_text)
        e, n = wer(ref, corpus.scored(hyp))
        errs, words = errs + e, words + n
    model.train()
    return errs / max(1, words)


def train_teacher(args, data, held, vocab, mel, log, model=None, steps=None, lr=None, long=False, polish=False, onset=False,
                  band=False):
    """Trains a teacher from scratch, or trains on a given one (a further run: the whole
    curriculum's second half again, or with long, windows as long recordings have them,
    with a fresh warm-up and decay). polish: the curriculum's second half at a low rate
    after the long run, prompted as dictation prompts its passes; onset: the same again
    with a share of sentences starting at the window's very start; band: the onset run's
    windows, a share of them heard through a resampler's low-pass filter."""
    onset = onset or band
    polish = polish or onset
    data.band_p = args.band_p if band else 0.0
    data.onset_p = args.onset_p if onset else 0.0
    data.pointer_p = args.pointer_p if onset else 0.0
    torch.manual_seed(args.seed)
    more = model is not None
    if not more:
        model = Whisper(vocab, d=args.width, heads=args.heads, enc_layers=args.enc_layers, dec_layers=4,
                        frame_classes=data.silence + 1)
    steps, lr = steps or args.teacher_steps, lr or args.lr
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.01)
    t0 = time.time()
    for step in range(steps):
        n_ctx, size, max_words, multi_p = schedule(step, steps, 0.5 if more else 0.0, long)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr, args.warmup if not more else 100)
        audio, inp, lab, frames, guide = data.batch(n_ctx, size, max_words, multi_p=multi_p,
                                                    prompt_p=args.prompt_p if long or polish else 0.0)
        xa = model.encoder(mel(audio, 2 * n_ctx))
        lfr = frame_loss(model, xa, frames)
        if step < args.hear_steps and not more:  # the encoder learns to hear first
            loss, lce, lgd = lfr, torch.tensor(0.0), torch.tensor(0.0)
        else:
            weights = []
            logits = model.decoder(inp, xa, weights)
            lce = F.cross_entropy(logits.flatten(0, 1), lab.flatten(), ignore_index=IGNORE)
            lgd = guide_loss(weights[0], guide)
            loss = lce + (1.0 if step < steps // 2 and not more else 0.3) * lfr + 0.5 * lgd
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            msg = f"teacher{' (long)' if long else ' (band)' if band else ' (onset)' if onset else ' (polish)' if polish else ' (more)' if more else ''} {step}/{steps} ctx {n_ctx} words≤{max_words} ce {lce.item():.3f} frames {lfr.item():.3f} guide {lgd.item():.3f} {time.time() - t0:.0f}s"
            if step % args.eval_every == 0 and step >= args.hear_steps or step == steps - 1:
                msg += f" held-out WER {100 * evaluate(model, mel, *held, vocab):.1f}%"
                if long:
                    msg += f", whole 30 s windows {100 * evaluate_long(model, mel, *held, vocab):.1f}%"
                if onset:
                    msg += f", no lead {100 * evaluate(model, mel, *held, vocab, lead=0):.1f}%"
            log(msg)
    return model, time.time() - t0


def fit_heads(model, data, mel, log, steps=300):
    """Trains a model's auxiliary heads (not in its ggml file) with the rest frozen, so a
    run on a model read from a file starts with the frame loss where training left it."""
    heads = list(model.frame_head.parameters()) + list(model.word_head.parameters())
    opt = torch.optim.AdamW(heads, lr=3e-3)
    t0 = time.time()
    for step in range(steps):
        audio, _, _, frames, _ = data.batch(256, 24, 12)
        with torch.no_grad():
            xa = model.encoder(mel(audio, 512))
        loss = frame_loss(model, xa, frames)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"heads {step}/{steps} frames {loss.item():.3f} {time.time() - t0:.0f}s")


def make_student(teacher, vocab):
    d = teacher.dims
    student = Whisper(vocab, d=d["d"], heads=d["heads"], enc_layers=d["enc_layers"], dec_layers=2)
    student.encoder.load_state_dict(teacher.encoder.state_dict())
    sd = {k: v for k, v in teacher.decoder.state_dict().items() if not k.startswith("blocks.")}
    for new, old in ((0, 0), (1, d["dec_layers"] - 1)):  # first and last, as Distil-Whisper
        for k, v in teacher.decoder.blocks[old].state_dict().items():
            sd[f"blocks.{new}.{k}"] = v
    student.decoder.load_state_dict(sd)
    for p in student.encoder.parameters():
        p.requires_grad_(False)
    return student


def pseudo_labels(teacher, xa, inp, lab, vocab):
    """The teacher's greedy output for each window, in the window's mode, as (input,
    label) rows, behind the window's prompt if it has one (the output itself comes
    unprompted: one batch); windows whose pseudo-label is more than 10 % WER from the truth
    are dropped (Distil-Whisper's filter)."""
    rows = [r.tolist() for r in inp]
    pres = [r[: r.index(vocab.sot)] for r in rows]
    modes = [rows[k][len(pres[k]) + 1] != vocab.not_ for k in range(len(rows))]
    outs = {}
    for ts_mode in (True, False):
        ks = [k for k in range(len(rows)) if modes[k] == ts_mode]
        if ks:
            prefix = [vocab.sot] if ts_mode else [vocab.sot, vocab.not_]
            for k, out in zip(ks, teacher.greedy(xa[ks], prefix, max_len=inp.shape[1] + 16)):
                outs[k] = out[: out.index(vocab.eot)] if vocab.eot in out else out
    items = []
    for k in range(len(rows)):
        out, pre, ign = outs[k], pres[k], [IGNORE] * len(pres[k])
        truth = [t for t in lab[k].tolist() if 0 <= t < vocab.n_text]
        said = [t for t in out if t < vocab.n_text]
        e, n = wer(truth, said)
        if n and e / n > 0.1 or (not n and said):
            continue
        if modes[k]:
            items.append((k, pre + [vocab.sot] + out, ign + out + [vocab.eot]))
        elif said:
            items.append((k, pre + [vocab.sot, vocab.not_] + out, ign + [IGNORE] + out + [vocab.eot]))
        else:
            items.append((k, pre + [vocab.sot, vocab.not_], ign + [IGNORE, vocab.nosp]))
    return items


def train_student(args, teacher, data, held, vocab, mel, log, decoder_from=None, steps=None, lr=None, ema=None):
    """Distils a student from teacher; decoder_from: a student whose decoder this one
    starts from (a further run on a teacher trained further), else the teacher's."""
    ema = args.student_ema if ema is None else ema
    student = make_student(teacher, vocab)
    if decoder_from is not None:
        student.decoder.load_state_dict(decoder_from.decoder.state_dict())
    teacher.eval()
    params = [p for p in student.parameters() if p.requires_grad]
    steps, lr = steps or args.student_steps, lr or args.student_lr
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.98), weight_decay=0.01)
    # --student-ema keeps an average of the weights rather than the last step's: one step's
    # decoder moved the held-out WER by a point from eval to eval (4.9-6.2 % late in a run).
    kept_model = copy.deepcopy(student) if ema else student
    averaged = [p for p in kept_model.parameters() if p.requires_grad]
    t0 = time.time()
    kept = [0, 0]
    for step in range(steps):
        # Windows of one sentence, as dictation has them: the teacher's labels for windows
        # full of sentences mostly fail the filter (and cost the most to make).
        n_ctx, size, _, multi_p = schedule(step, steps, 0.5)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr, 50)
        # Mostly without timestamps: whisper.cpp runs a 2-layer English model so.
        audio, inp, lab, _, _ = data.batch(n_ctx, size, 12, ts_p=args.student_ts, multi_p=multi_p, prompt_p=args.prompt_p)
        with torch.no_grad():
            xa = student.encoder(mel(audio, 2 * n_ctx))
            rows = pseudo_labels(teacher, xa, inp, lab, vocab)
        kept[0] += len(rows)
        kept[1] += size
        if not rows:
            continue
        L = max(len(r[1]) for r in rows)
        pin = torch.full((len(rows), L), vocab.eot, dtype=torch.long)
        plab = torch.full((len(rows), L), IGNORE, dtype=torch.long)
        for r, (k, a, b) in enumerate(rows):
            pin[r, : len(a)], plab[r, : len(b)] = torch.tensor(a), torch.tensor(b)
        xk = xa[[r[0] for r in rows]]
        with torch.no_grad():
            t_logp = F.log_softmax(teacher.decoder(pin, xk), -1)
        s_logits = student.decoder(pin, xk)
        mask = plab != IGNORE
        kl = F.kl_div(F.log_softmax(s_logits, -1)[mask], t_logp[mask], log_target=True, reduction="batchmean")
        ce = F.cross_entropy(s_logits.flatten(0, 1), plab.flatten(), ignore_index=IGNORE)
        loss = 0.8 * kl + 1.0 * ce
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if ema:
            with torch.no_grad():
                decay = min(ema, (1 + step) / (10 + step))
                for a, p in zip(averaged, params):
                    a.lerp_(p, 1 - decay)
        if step % 50 == 0 or step == steps - 1:
            msg = f"student {step}/{steps} ctx {n_ctx} kl {kl.item():.3f} ce {ce.item():.3f} kept {kept[0]}/{kept[1]} {time.time() - t0:.0f}s"
            if step % args.eval_every == 0 or step == steps - 1:
                msg += f" held-out WER {100 * evaluate(student, mel, *held, vocab, ts_mode=False):.1f}%"
                if ema:
                    msg += f" (averaged {100 * evaluate(kept_model, mel, *held, vocab, ts_mode=False):.1f}%)"
            log(msg)
    return kept_model, time.time() - t0, kept


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", required=True, help="corpus cache and checkpoints")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--train-sentences", type=int, default=6000)
    ap.add_argument("--held-out", type=int, default=200)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--enc-layers", type=int, default=2)
    ap.add_argument("--teacher-steps", type=int, default=2000)
    ap.add_argument("--hear-steps", type=int, default=100)
    ap.add_argument("--student-steps", type=int, default=4000)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--student-lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--teacher-more-steps", type=int, default=1000, help="steps of each further run on the teacher")
    ap.add_argument("--more-rounds", type=int, default=2, help="further runs on the teacher")
    ap.add_argument("--more-lr", type=float, default=1e-3)
    ap.add_argument("--long-steps", type=int, default=2000, help="steps of a run on windows as long recordings have them")
    ap.add_argument("--long-lr", type=float, default=5e-4)
    ap.add_argument("--polish-steps", type=int, default=1500, help="steps of a run at a low rate after the long one")
    ap.add_argument("--polish-lr", type=float, default=2e-4)
    ap.add_argument("--onset-steps", type=int, default=1500, help="steps of a run at a low rate after the polish one, some sentences at the window's start")
    ap.add_argument("--onset-lr", type=float, default=2e-4)
    # Took the teacher from 5.21 to 4.0-4.4 % through the app (BENCHMARKS.md).
    ap.add_argument("--band-steps", type=int, default=1500, help="steps of a run after the onset one, some windows low-passed as resamplers do")
    ap.add_argument("--band-lr", type=float, default=2e-4)
    ap.add_argument("--band-p", type=float, default=0.5, help="share of windows (band run, student) through a resampler's low-pass filter")
    ap.add_argument("--onset-p", type=float, default=0.4, help="share of single sentences (onset run, student) starting 0-50 ms into the window")
    ap.add_argument("--pointer-p", type=float, default=0.4, help="share of timestamped windows (onset run, student) full of speech, labelled up to the next sentence's start")
    ap.add_argument("--prompt-p", type=float, default=0.5, help="share of windows (long and polish runs, student) prompted with earlier text")
    # With it a student distilled from the band teacher at once reached the teacher in
    # PyTorch (4.80 %, was 5.37 %). Not in a staged student's first distillation: the
    # committed one's was made without it.
    ap.add_argument("--student-ema", type=float, default=0.999, help="decay of the student's weight average in its last distillation, the weights written (0: the last step's)")
    ap.add_argument("--student-ts", type=float, default=0.3, help="share of the student's windows with timestamps")
    ap.add_argument("--student-band-steps", type=int, default=3000, help="with --band-steps: the student is distilled from the teacher before its band run, then this many steps more from the band teacher")
    ap.add_argument("--student-band-lr", type=float, default=3e-4)
    ap.add_argument("--teacher-from", help="a teacher ggml file this script wrote, in place of the runs through the onset one")
    ap.add_argument("--student-from", help="with --student-band-steps: a student ggml file this script wrote, in place of its first distillation")
    ap.add_argument("--resume-teacher", action="store_true", help="reuse the teacher checkpoints")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.work, exist_ok=True)
    logf = open(os.path.join(args.work, "train.log"), "a")

    def log(msg):
        line = time.strftime("%H:%M:%S ") + msg
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    vocab = Vocab(corpus.token_texts())
    train_texts, held_texts = corpus.sentences(args.seed, args.train_sentences, args.held_out)
    cache = os.path.join(args.work, f"corpus3-{args.seed}-{args.train_sentences}-{args.held_out}.npz")
    t0 = time.time()
    if os.path.exists(cache):
        z = np.load(cache, allow_pickle=True)
        train_clips, train_starts, train_phones = list(z["train"]), list(z["train_starts"]), list(z["train_phones"])
        held_clips, held_voices = list(z["held"]), list(z["held_voices"])
    else:
        train_clips, train_starts, train_phones, _ = corpus.synthesise(train_texts, args.seed, corpus.VOICES, args.threads)
        held_clips, _, _, held_voices = corpus.synthesise(held_texts, args.seed + 1, corpus.HELD_OUT_VOICES, args.threads)
        obj = lambda xs: np.array(xs + [None], dtype=object)[:-1]  # ragged, kept as objects
        np.savez(cache, train=obj(train_clips), train_starts=obj(train_starts), train_phones=obj(train_phones),
                 held=obj(held_clips), held_voices=obj(held_voices))
    inventory = {p: k for k, p in enumerate(sorted({p for ph in train_phones for _, p in ph if p}))}
    aligned = sum(s is not None for s in train_starts)
    hours = sum(len(c) for c in train_clips) / SR / 3600
    log(f"corpus: {len(train_clips)} training sentences ({hours:.1f} h, {aligned} with word times), {len(inventory)} phonemes, {len(held_clips)} held out, {time.time() - t0:.0f}s")

    mel = LogMel()
    data = Data(train_clips, train_starts, train_phones, inventory, train_texts, vocab, args.seed)
    held = (held_clips, held_texts)
    def checkpointed(name, train):
        path = os.path.join(args.work, name)
        if args.resume_teacher and os.path.exists(path):
            m = Whisper(vocab, d=args.width, heads=args.heads, enc_layers=args.enc_layers, dec_layers=4,
                        frame_classes=data.silence + 1)
            sd = torch.load(path)
            emb = sd["decoder.embed.weight"]
            if emb.shape[0] < vocab.beg:  # saved before <|startofprev|> was added: it starts as <|startoftranscript|>
                sd["decoder.embed.weight"] = torch.cat([emb, emb[vocab.sot:vocab.sot + 1].repeat(vocab.beg - emb.shape[0], 1)])
            missing, _ = m.load_state_dict(sd, strict=False)
            assert all(k.startswith("word_head.") for k in missing), missing  # heads added later train from zero
            return m, json.load(open(path + ".json"))["seconds"]
        m, secs = train()
        torch.save(m.state_dict(), path)
        json.dump({"seconds": secs}, open(path + ".json", "w"))
        return m, secs

    def from_file(path):
        m = ggml.read(path, vocab, data.silence + 1)
        teaches = m.dims["dec_layers"] > 2
        log(f"{path}: held-out WER (PyTorch) {100 * evaluate(m, mel, *held, vocab, ts_mode=teaches):.1f}%")
        if teaches:  # a teacher trains on with its heads' losses; a student has none
            fit_heads(m, data, mel, log)
        return m

    def further(teacher, t_teacher, name, steps, lr, **kind):
        """A further run on the teacher, checkpointed as name; none when steps is 0."""
        if not steps:
            return teacher, t_teacher
        m, secs = checkpointed(name, lambda: train_teacher(
            args, data, held, vocab, mel, log, model=teacher, steps=steps, lr=lr, **kind))
        return m, t_teacher + secs

    def trained_through_onset():
        teacher, t_teacher = checkpointed("teacher.pt", lambda: train_teacher(args, data, held, vocab, mel, log))
        # Further runs, each with half the peak learning rate of the one before: one schedule
        # as long as all of them would be as good, but each run ends with a usable checkpoint.
        for r in range(args.more_rounds):
            teacher, t_teacher = further(teacher, t_teacher, "teacher-more.pt" if r == 0 else f"teacher-more{r + 1}.pt",
                                         args.teacher_more_steps, args.more_lr / 2 ** r)
        teacher, t_teacher = further(teacher, t_teacher, "teacher-long.pt", args.long_steps, args.long_lr, long=True)
        teacher, t_teacher = further(teacher, t_teacher, "teacher-polish.pt", args.polish_steps, args.polish_lr, polish=True)
        return further(teacher, t_teacher, "teacher-onset.pt", args.onset_steps, args.onset_lr, onset=True)

    teacher, t_teacher = (from_file(args.teacher_from), 0.0) if args.teacher_from else trained_through_onset()
    student_data = Data(train_clips, train_starts, train_phones, inventory, train_texts, vocab, args.seed + 7)
    if args.onset_steps:
        student_data.onset_p, student_data.pointer_p = args.onset_p, args.pointer_p
    # The student follows the teacher's last run: distilled before it, then distilled
    # further from the teacher that run made, on the same windows. Distilled from the band
    # teacher at once, it came out 1.55 % behind it through the app, twice; so 0.28 %.
    staged = args.band_steps and args.student_band_steps
    t_student, kept = 0.0, [0, 0]
    if staged and args.student_from:
        student = from_file(args.student_from)
    elif staged:  # without the average, as the committed student's first distillation
        student, t_student, kept = train_student(args, teacher, student_data, held, vocab, mel, log, ema=0.0)
    teacher, t_teacher = further(teacher, t_teacher, "teacher-band.pt", args.band_steps, args.band_lr, band=True)
    teacher_wer = evaluate(teacher, mel, *held, vocab, limit=len(held_clips))
    teacher_wer0 = evaluate(teacher, mel, *held, vocab, limit=len(held_clips), lead=0)
    teacher_long_wer = evaluate_long(teacher, mel, *held, vocab)
    log(f"teacher: {t_teacher:.0f}s, held-out WER (PyTorch) {100 * teacher_wer:.2f}% in 5 s windows ({100 * teacher_wer0:.2f}% without a lead), {100 * teacher_long_wer:.2f}% transcribing 30 s windows full of sentences whole")
    ggml.write(teacher, os.path.join(args.out, "words-teacher.bin"))

    if args.band_steps:
        student_data.band_p = args.band_p
    if staged:
        student, t_more, kept_more = train_student(args, teacher, student_data, held, vocab, mel, log, decoder_from=student,
                                                   steps=args.student_band_steps, lr=args.student_band_lr)
        t_student, kept = t_student + t_more, [kept[0] + kept_more[0], kept[1] + kept_more[1]]
    else:
        student, t_student, kept = train_student(args, teacher, student_data, held, vocab, mel, log)
    student_wer = evaluate(student, mel, *held, vocab, limit=len(held_clips), ts_mode=False)
    student_wer0 = evaluate(student, mel, *held, vocab, limit=len(held_clips), ts_mode=False, lead=0)
    log(f"student: {t_student:.0f}s, held-out WER (PyTorch, no timestamps) {100 * student_wer:.2f}% ({100 * student_wer0:.2f}% without a lead)")
    ggml.write(student, os.path.join(args.out, "words-student.bin"))

    with open(os.path.join(args.out, "heldout.tsv"), "w") as f:
        for text, (voice, speed, pitch) in zip(held_texts, held_voices):
            f.write(f"{text}\t{voice}\t{speed}\t{pitch}\n")
    recipe = {k: v for k, v in vars(args).items() if k not in ("out", "work", "threads", "resume_teacher")}
    recipe.update(torch=torch.__version__, threads=args.threads,
                  corpus_hours=round(hours, 2), teacher_seconds=round(t_teacher), student_seconds=round(t_student),
                  teacher_heldout_wer_torch=round(100 * teacher_wer, 2),
                  teacher_heldout_wer_no_lead_torch=round(100 * teacher_wer0, 2),
                  teacher_30s_windows_wer_torch=round(100 * teacher_long_wer, 2),
                  student_heldout_wer_torch=round(100 * student_wer, 2),
                  student_heldout_wer_no_lead_torch=round(100 * student_wer0, 2),
                  student_pseudo_labels_kept=f"{kept[0]}/{kept[1]}",
                  vocabulary_words=len(corpus.WORDS), vocabulary_tokens=vocab.n_text)
    with open(os.path.join(args.out, "recipe.json"), "w") as f:
        json.dump(recipe, f, indent=1)
        f.write("\n")
    log("wrote " + ", ".join(sorted(os.listdir(args.out))))


if __name__ == "__main__":
    main()
