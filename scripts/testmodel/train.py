"""Trains the test models: a Whisper-architecture teacher (4 decoder layers) on synthetic
speech, then a student the Distil-Whisper way (the teacher's encoder copied and frozen, a
2-layer decoder from the teacher's first and last, trained on the teacher's pseudo-labels
with KL plus cross-entropy), and writes both as whisper.cpp ggml files.

Run through scripts/train-test-model, which gives it PyTorch in a root of its own.
"""

import argparse
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
    segment the window cuts), room noise, gain; noise-only windows labelled no-speech."""

    def __init__(self, clips, starts, phones, inventory, texts, vocab, seed):
        self.clips, self.starts, self.texts, self.vocab = clips, starts, texts, vocab
        self.phones, self.inventory = phones, inventory
        self.silence = len(inventory)
        self.rng = random.Random(seed)
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

    def item(self, n_ctx, max_words, empty_p=0.06, ts_p=0.7):
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
        for _ in range(100):
            i = rng.randrange(len(self.clips))
            if self.n_words[i] <= max_words and len(self.clips[i]) < W - 0.15 * SR:
                break
        clip = self.clips[i] * rng.uniform(0.15, 1.0)
        if rng.random() < 0.1:  # the speaker moves: a gain ramp
            clip = clip * np.linspace(rng.uniform(0.4, 1), rng.uniform(0.4, 1), len(clip), dtype=np.float32)
        lead = int(rng.uniform(0, min(1.0, (W - len(clip)) / SR - 0.1)) * SR)
        end = lead + len(clip)
        audio[lead:end] = clip
        take = min(W, end + int(rng.uniform(0.05, 1.0) * SR))
        trailing = None
        if ts_mode and rng.random() < 0.35:
            start2 = end + int(rng.uniform(0.3, 1.5) * SR)
            if start2 < W - 0.3 * SR:
                j = rng.randrange(len(self.clips))
                nxt = self.clips[j][: W - start2] * rng.uniform(0.15, 1.0)
                audio[start2:start2 + len(nxt)] = nxt
                trailing, take = start2, W
        audio[:take] += self.noise(take)
        audio[take:] = 0
        toks = self.tokens[i]
        if ts_mode:
            seq = [v.timestamp(lead / SR)] + toks + [v.timestamp(end / SR)]
            if trailing is not None:
                seq.append(v.timestamp(trailing / SR))
            inp, lab = [v.sot] + seq, seq + [v.eot]
        else:
            inp, lab = [v.sot, v.not_] + toks, [IGNORE] + toks + [v.eot]
        first = 1  # label position of the first text token, in either mode
        # The phoneme each encoder frame (20 ms) hears, and each word's frames.
        fr = lambda sample: min(n_ctx, int(sample / 320))
        frames[: fr(trailing if trailing is not None else take)] = self.silence
        phones = self.phones[i]
        for k, (t, name) in enumerate(phones):
            t_next = phones[k + 1][0] if k + 1 < len(phones) else len(self.clips[i]) / SR
            a, b = fr(lead + int(t * SR)), fr(lead + int(t_next * SR))
            frames[a:max(a + 1, b)] = self.inventory.get(name, self.silence)
        spans = []
        starts = self.starts[i]
        if starts is not None:
            bounds = [lead + int(t * SR) for t in starts] + [end]
            pos = [first + k for k, t in enumerate(toks) if v.texts[t].startswith(" ")]
            words[: fr(trailing if trailing is not None else take)] = v.n_text
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


def schedule(step, total, start=0.0):
    """Curriculum: short sentences and 5 s windows first; dictation (10 s) and file (30 s)
    windows in the last part, so whisper.cpp's full window is familiar. start skips ahead
    (a continued run starts where the first left its curriculum)."""
    p = start + (1 - start) * step / total
    max_words = 3 + int(9 * min(1.0, p / 0.3))
    if p < 0.55:
        return 256, 24, max_words
    r = (step * 7919) % 10
    if r < 4:
        return 256, 24, max_words
    if r < 8:
        return 512, 12, max_words
    return 1500, 4, max_words


def evaluate(model, mel, clips, texts, vocab, n_ctx=256, limit=64):
    """Greedy WER on held-out sentences that fit the window, in timestamp mode."""
    model.eval()
    errs = words = 0
    idx = [i for i in range(len(clips)) if len(clips[i]) < n_ctx * 320 - 0.4 * SR][:limit]
    for s in range(0, len(idx), 16):
        chunk = idx[s:s + 16]
        audio = np.zeros((len(chunk), n_ctx * 320), dtype=np.float32)
        for k, i in enumerate(chunk):
            audio[k, int(0.3 * SR): int(0.3 * SR) + len(clips[i])] = clips[i]
        with torch.no_grad():
            xa = model.encoder(mel(torch.from_numpy(audio), 2 * n_ctx))
        for k, toks in enumerate(model.greedy(xa, [vocab.sot])):
            hyp = "".join(vocab.texts[t] for t in toks if t < vocab.n_text)
            e, n = wer(corpus.normalise(texts[chunk[k]]), corpus.normalise(hyp))
            errs, words = errs + e, words + n
    model.train()
    return errs / max(1, words)


def train_teacher(args, data, held, vocab, mel, log, model=None, steps=None, lr=None):
    """Trains a teacher from scratch, or trains on a given one (a second run: the whole
    curriculum's second half again, with a fresh warm-up and decay)."""
    torch.manual_seed(args.seed)
    more = model is not None
    if not more:
        model = Whisper(vocab, d=args.width, heads=args.heads, enc_layers=args.enc_layers, dec_layers=4,
                        frame_classes=data.silence + 1)
    steps, lr = steps or args.teacher_steps, lr or args.lr
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.01)
    t0 = time.time()
    for step in range(steps):
        n_ctx, size, max_words = schedule(step, steps, 0.5 if more else 0.0)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr, args.warmup if not more else 100)
        audio, inp, lab, frames, guide = data.batch(n_ctx, size, max_words)
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
            msg = f"teacher{' (more)' if more else ''} {step}/{steps} ctx {n_ctx} words≤{max_words} ce {lce.item():.3f} frames {lfr.item():.3f} guide {lgd.item():.3f} {time.time() - t0:.0f}s"
            if step % args.eval_every == 0 and step >= args.hear_steps or step == steps - 1:
                msg += f" held-out WER {100 * evaluate(model, mel, *held, vocab):.1f}%"
            log(msg)
    return model, time.time() - t0


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
    label) rows; windows whose pseudo-label is more than 10 % WER from the truth are
    dropped (Distil-Whisper's filter)."""
    outs = {}
    for ts_mode in (True, False):
        ks = [k for k in range(inp.shape[0]) if (inp[k, 1].item() != vocab.not_) == ts_mode]
        if ks:
            prefix = [vocab.sot] if ts_mode else [vocab.sot, vocab.not_]
            for k, out in zip(ks, teacher.greedy(xa[ks], prefix)):
                outs[k] = (ts_mode, out[: out.index(vocab.eot)] if vocab.eot in out else out)
    items = []
    for k in range(inp.shape[0]):
        ts_mode, out = outs[k]
        truth = [t for t in lab[k].tolist() if 0 <= t < vocab.n_text]
        said = [t for t in out if t < vocab.n_text]
        e, n = wer(truth, said)
        if n and e / n > 0.1 or (not n and said):
            continue
        if ts_mode:
            items.append((k, [vocab.sot] + out, out + [vocab.eot]))
        elif said:
            items.append((k, [vocab.sot, vocab.not_] + out, [IGNORE] + out + [vocab.eot]))
        else:
            items.append((k, [vocab.sot, vocab.not_], [IGNORE, vocab.nosp]))
    return items


def train_student(args, teacher, data, held, vocab, mel, log):
    student = make_student(teacher, vocab)
    teacher.eval()
    params = [p for p in student.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.student_lr, betas=(0.9, 0.98), weight_decay=0.01)
    t0 = time.time()
    steps, kept = args.student_steps, [0, 0]
    for step in range(steps):
        n_ctx, size, _ = schedule(step, steps)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, args.student_lr, 50)
        audio, inp, lab, _, _ = data.batch(n_ctx, size, 12)
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
        if step % 50 == 0 or step == steps - 1:
            msg = f"student {step}/{steps} ctx {n_ctx} kl {kl.item():.3f} ce {ce.item():.3f} kept {kept[0]}/{kept[1]} {time.time() - t0:.0f}s"
            if step % args.eval_every == 0 or step == steps - 1:
                msg += f" held-out WER {100 * evaluate(student, mel, *held, vocab):.1f}%"
            log(msg)
    return student, time.time() - t0, kept


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
    ap.add_argument("--student-steps", type=int, default=400)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--student-lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--teacher-more-steps", type=int, default=1000, help="steps of each further run on the teacher")
    ap.add_argument("--more-rounds", type=int, default=2, help="further runs on the teacher")
    ap.add_argument("--more-lr", type=float, default=1e-3)
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
            missing, _ = m.load_state_dict(torch.load(path), strict=False)
            assert all(k.startswith("word_head.") for k in missing), missing  # heads added later train from zero
            return m, json.load(open(path + ".json"))["seconds"]
        m, secs = train()
        torch.save(m.state_dict(), path)
        json.dump({"seconds": secs}, open(path + ".json", "w"))
        return m, secs

    teacher, t_teacher = checkpointed("teacher.pt", lambda: train_teacher(args, data, held, vocab, mel, log))
    # Further runs, each with half the peak learning rate of the one before: one schedule
    # as long as all of them would be as good, but each run ends with a usable checkpoint.
    for r in range(args.more_rounds):
        teacher, t_more = checkpointed("teacher-more.pt" if r == 0 else f"teacher-more{r + 1}.pt", lambda: train_teacher(
            args, data, held, vocab, mel, log, model=teacher, steps=args.teacher_more_steps, lr=args.more_lr / 2 ** r))
        t_teacher += t_more
    teacher_wer = evaluate(teacher, mel, *held, vocab, limit=len(held_clips))
    log(f"teacher: {t_teacher:.0f}s, held-out WER (PyTorch, 5 s windows) {100 * teacher_wer:.2f}%")
    ggml.write(teacher, os.path.join(args.out, "words-teacher.bin"))

    student, t_student, kept = train_student(args, teacher, Data(train_clips, train_starts, train_phones, inventory, train_texts, vocab, args.seed + 7),
                                             held, vocab, mel, log)
    student_wer = evaluate(student, mel, *held, vocab, limit=len(held_clips))
    log(f"student: {t_student:.0f}s, held-out WER (PyTorch) {100 * student_wer:.2f}%")
    ggml.write(student, os.path.join(args.out, "words-student.bin"))

    with open(os.path.join(args.out, "heldout.tsv"), "w") as f:
        for text, (voice, speed, pitch) in zip(held_texts, held_voices):
            f.write(f"{text}\t{voice}\t{speed}\t{pitch}\n")
    recipe = {k: v for k, v in vars(args).items() if k not in ("out", "work", "threads", "resume_teacher")}
    recipe.update(torch=torch.__version__, threads=args.threads,
                  corpus_hours=round(hours, 2), teacher_seconds=round(t_teacher), student_seconds=round(t_student),
                  teacher_heldout_wer_torch=round(100 * teacher_wer, 2),
                  student_heldout_wer_torch=round(100 * student_wer, 2),
                  student_pseudo_labels_kept=f"{kept[0]}/{kept[1]}",
                  vocabulary_words=len(corpus.WORDS), vocabulary_tokens=vocab.n_text)
    with open(os.path.join(args.out, "recipe.json"), "w") as f:
        json.dump(recipe, f, indent=1)
        f.write("\n")
    log("wrote " + ", ".join(sorted(os.listdir(args.out))))


if __name__ == "__main__":
    main()
