"""A Whisper-architecture model in PyTorch that whisper.cpp runs once written out (ggml.py):
the log-mel front end as whisper.cpp computes it, the conv stem, sinusoidal encoder
positions, pre-norm blocks, a decoder whose logits are its token embedding's products.

The decoder keeps only the tokens the corpus uses (words, five specials, 1501 timestamps).
The ids it never uses get one stand-in logit here and fixed rows in the file: channel 0 of
the final norm is held at 1, and an unused token's row is (-UNUSED_LOGIT, 0, …), so
whisper.cpp sees exactly the distribution trained here.
"""

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

N_MELS, N_FFT, HOP = 80, 400, 160
N_AUDIO_CTX, N_TEXT_CTX = 1500, 448
N_VOCAB = 51864  # English-only
EOT, SOT, PREV, NOSP, NOT, BEG = 50256, 50257, 50360, 50361, 50362, 50363
N_TIMESTAMPS = 1501
UNUSED_LOGIT = 20.0


def mel_filters():
    """Slaney-style mel filters over 0–8 kHz (librosa's default, as Whisper's bank)."""
    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        lin = f / (200.0 / 3)
        return np.where(f >= 1000, 15 + np.log(np.maximum(f, 1e-9) / 1000) / (np.log(6.4) / 27), lin)

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        return np.where(m >= 15, 1000 * np.exp((np.log(6.4) / 27) * (m - 15)), m * 200.0 / 3)

    fft_freqs = np.linspace(0, 8000, N_FFT // 2 + 1)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0), hz_to_mel(8000), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    w = np.zeros((N_MELS, N_FFT // 2 + 1))
    for i in range(N_MELS):
        w[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    w *= (2.0 / (mel_f[2:N_MELS + 2] - mel_f[:N_MELS]))[:, None]
    return w.astype(np.float32)


class LogMel(nn.Module):
    """whisper.cpp's log-mel: reflect-padded start, zero-padded end, periodic Hann window,
    power spectrum, log10 floored at 1e-10, clamped at the maximum less 8, (x + 4) / 4."""

    def __init__(self):
        super().__init__()
        self.register_buffer("filters", torch.from_numpy(mel_filters()))
        self.register_buffer("window", torch.hann_window(N_FFT, periodic=True))

    def forward(self, audio, n_frames):
        # audio: (B, samples), the whole take; frames past its end see zeros, as in whisper.cpp.
        x = torch.cat([audio[:, 1:N_FFT // 2 + 1].flip(1), audio], 1)
        need = (n_frames - 1) * HOP + N_FFT
        x = F.pad(x, (0, max(0, need - x.shape[1])))[:, :need]
        spec = torch.stft(x, N_FFT, HOP, window=self.window, center=False, return_complex=True)
        mel = torch.log10(torch.clamp(self.filters @ (spec.abs() ** 2), min=1e-10))
        mmax = mel.amax(dim=(1, 2), keepdim=True)
        return (torch.maximum(mel, mmax - 8) + 4) / 4


def sinusoids(length, channels):
    inc = math.log(10000) / (channels // 2 - 1)
    inv = torch.exp(-inc * torch.arange(channels // 2))
    t = torch.arange(length)[:, None] * inv[None, :]
    return torch.cat([torch.sin(t), torch.cos(t)], dim=1)


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d, bias=False)
        self.value = nn.Linear(d, d)
        self.out = nn.Linear(d, d)

    def forward(self, x, xa=None, causal=False, weights=None, cache=None):
        """cache (a dict, greedy decoding only): the keys and values seen so far, so each
        step computes only its new tokens; the audio's are computed once."""
        B, T, D = x.shape
        split = lambda t: t.view(B, -1, self.heads, D // self.heads).transpose(1, 2)
        q = split(self.query(x))
        if cache is not None and xa is not None and "k" in cache:
            k, v = cache["k"], cache["v"]
        else:
            src = x if xa is None else xa
            k, v = split(self.key(src)), split(self.value(src))
            if cache is not None and xa is None and "k" in cache:
                k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
            if cache is not None:
                cache["k"], cache["v"] = k, v
        if weights is not None:  # head 0's attention, for the alignment loss
            weights.append(torch.softmax(q[:, 0] @ k[:, 0].transpose(1, 2) / math.sqrt(D // self.heads), -1))
        # Causal only among new tokens that start the sequence: a step's one new token
        # sees every cached one.
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal and T > 1 and k.shape[2] == T)
        return self.out(y.transpose(1, 2).reshape(B, T, D))


class Block(nn.Module):
    def __init__(self, d, heads, cross=False):
        super().__init__()
        self.attn_ln, self.attn = nn.LayerNorm(d), Attention(d, heads)
        self.cross = cross
        if cross:
            self.cross_attn_ln, self.cross_attn = nn.LayerNorm(d), Attention(d, heads)
        self.mlp_ln = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(approximate="tanh"), nn.Linear(4 * d, d))

    def forward(self, x, xa=None, causal=False, weights=None, cache=None):
        x = x + self.attn(self.attn_ln(x), causal=causal, cache=None if cache is None else cache.setdefault("self", {}))
        if self.cross:
            x = x + self.cross_attn(self.cross_attn_ln(x), xa, weights=weights,
                                    cache=None if cache is None else cache.setdefault("cross", {}))
        return x + self.mlp(self.mlp_ln(x))


class Encoder(nn.Module):
    def __init__(self, d, heads, layers):
        super().__init__()
        self.conv1 = nn.Conv1d(N_MELS, d, 3, padding=1)
        self.conv2 = nn.Conv1d(d, d, 3, stride=2, padding=1)
        self.register_buffer("positional_embedding", sinusoids(N_AUDIO_CTX, d))
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_post = nn.LayerNorm(d)

    def forward(self, mel):
        x = F.gelu(self.conv1(mel), approximate="tanh")
        x = F.gelu(self.conv2(x), approximate="tanh").transpose(1, 2)
        x = x + self.positional_embedding[: x.shape[1]]
        for b in self.blocks:
            x = b(x)
        return self.ln_post(x)


class Vocab:
    """Compact ids (what the model trains on) and whisper ids (what the file holds)."""

    def __init__(self, texts):
        self.texts = texts
        self.n_text = len(texts)
        self.eot, self.sot, self.nosp, self.not_, self.prev = range(self.n_text, self.n_text + 5)
        self.beg = self.n_text + 5
        self.size = self.beg + N_TIMESTAMPS
        self.index = {t: i for i, t in enumerate(texts)}

    def whisper_id(self, i):
        if i < self.n_text:
            return i
        if i >= self.beg:
            return BEG + (i - self.beg)
        return [EOT, SOT, NOSP, NOT, PREV][i - self.n_text]

    def timestamp(self, seconds):
        return self.beg + min(N_TIMESTAMPS - 1, max(0, int(round(seconds / 0.02))))


class Decoder(nn.Module):
    def __init__(self, vocab, d, heads, layers):
        super().__init__()
        self.vocab = vocab
        self.embed = nn.Embedding(vocab.beg, d)
        # Timestamp rows are a learnt map of the time's sinusoids: 1501 ids share what
        # they learn, where free rows would each be seen a handful of times.
        self.register_buffer("ts_features", sinusoids(N_TIMESTAMPS, 64))
        self.ts_proj = nn.Linear(64, d)
        self.positional_embedding = nn.Parameter(torch.randn(N_TEXT_CTX, d) * 0.01)
        self.blocks = nn.ModuleList(Block(d, heads, cross=True) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        nn.init.normal_(self.embed.weight, std=0.02)

    def token_rows(self):
        return torch.cat([self.embed.weight, self.ts_proj(self.ts_features)], 0)

    def final_norm(self, x):
        x = self.ln(x)
        return torch.cat([torch.ones_like(x[..., :1]), x[..., 1:]], -1)

    def forward(self, tokens, xa, weights=None, cache=None):
        """Logits; with weights (a list), the first layer's head 0 cross-attention is
        appended to it: that head is taught to point at the word being said. With cache
        (a dict kept between calls), tokens are the ones after those of earlier calls, and
        only the last position's logits come back."""
        rows = self.token_rows() if cache is None else cache.get("rows")
        if rows is None:
            rows = cache["rows"] = self.token_rows()
        at = 0 if cache is None else cache.get("n", 0)
        x = rows[tokens] + self.positional_embedding[at: at + tokens.shape[1]]
        for i, b in enumerate(self.blocks):
            x = b(x, xa, causal=True, weights=weights if i == 0 else None,
                  cache=None if cache is None else cache.setdefault(i, {}))
        if cache is not None:
            cache["n"] = at + tokens.shape[1]
            x = x[:, -1:]
        x = self.final_norm(x)
        logits = x @ rows.t()
        # All unused ids together: N of them at -UNUSED_LOGIT each.
        unused = torch.full_like(logits[..., :1], -UNUSED_LOGIT + math.log(N_VOCAB - self.vocab.size))
        return torch.cat([logits, unused], -1)


class Whisper(nn.Module):
    def __init__(self, vocab, d=128, heads=4, enc_layers=2, dec_layers=4, frame_classes=1):
        super().__init__()
        self.dims = dict(d=d, heads=heads, enc_layers=enc_layers, dec_layers=dec_layers)
        self.encoder = Encoder(d, heads, enc_layers)
        self.decoder = Decoder(vocab, d, heads, dec_layers)
        # Which phoneme each encoder frame hears (or none), from espeak-ng's phoneme events:
        # the encoder learns to hear long before attention learns where to look, and then
        # gives attention something to find. Not exported.
        self.frame_head = nn.Linear(d, frame_classes)
        # And which word: phonemes give the encoder something to hear at once, words let
        # the pointing head read the word it points at. Not exported either.
        self.word_head = nn.Linear(d, vocab.n_text + 1)

    @torch.no_grad()
    def greedy(self, xa, prefix, max_len=40):
        """Greedy decoding with whisper.cpp's rules that matter here: the first token a
        timestamp (in timestamp mode), no special tokens, timestamps paired."""
        v = self.decoder.vocab
        B = xa.shape[0]
        toks = torch.tensor(prefix).repeat(B, 1)
        done = torch.zeros(B, dtype=torch.bool)
        ts_mode = prefix[-1] != v.not_
        cache, new = {}, toks
        for step in range(max_len):
            logits = self.decoder(new, xa, cache=cache)[:, -1, : v.size].clone()
            logits[:, [v.sot, v.nosp, v.not_, v.prev]] = -1e9
            if step == 0:
                logits[:, v.eot] = -1e9  # suppress_blank
                logits[:, v.index[" "]] = -1e9
            if not ts_mode:
                logits[:, v.beg:] = -1e9
            elif step == 0:
                logits[:, : v.beg] = -1e9
                logits[:, v.beg + 51:] = -1e9  # max_initial_ts 1.0 s
            else:
                last = toks[:, -1] >= v.beg
                pen = toks[:, -2] >= v.beg if step > 1 else torch.ones(B, dtype=torch.bool)
                logits[last & pen, v.beg:] = -1e9  # a pair is closed: text or the end
                text = torch.arange(v.size) < v.beg
                text[v.eot] = False
                logits[(last & ~pen)[:, None] & text[None, :]] = -1e9  # a segment ended
            nxt = logits.argmax(-1)
            nxt[done] = v.eot
            new = nxt[:, None]
            toks = torch.cat([toks, new], 1)
            done |= nxt == v.eot
            if done.all():
                break
        return toks[:, len(prefix):].tolist()

