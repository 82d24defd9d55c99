"""Writes a model as whisper.cpp's ggml file (see shared notes: the legacy format), and reads one back."""

import struct

import numpy as np
import torch

from model import BEG, N_AUDIO_CTX, N_MELS, N_TEXT_CTX, N_VOCAB, UNUSED_LOGIT, Whisper, mel_filters


def token_embedding(model):
    """The full English-only table: the trained rows at their whisper ids, the rest rows
    whose logit is -UNUSED_LOGIT (channel 0 of the final norm is 1)."""
    dec = model.decoder
    v = dec.vocab
    rows = dec.token_rows().detach().float().numpy()
    full = np.zeros((N_VOCAB, rows.shape[1]), dtype=np.float32)
    full[:, 0] = -UNUSED_LOGIT
    for i in range(v.size):
        full[v.whisper_id(i)] = rows[i]
    return full


def tensors(model):
    sd = {k: t.detach().float().numpy() for k, t in model.state_dict().items()}
    out = []
    f32 = lambda name, a: out.append((name, np.ascontiguousarray(a, dtype=np.float32), 0))
    w16 = lambda name, a: out.append((name, np.ascontiguousarray(a, dtype=np.float16), 1))

    def attn(dst, src):
        w16(dst + ".query.weight", sd[src + ".query.weight"])
        f32(dst + ".query.bias", sd[src + ".query.bias"])
        w16(dst + ".key.weight", sd[src + ".key.weight"])
        w16(dst + ".value.weight", sd[src + ".value.weight"])
        f32(dst + ".value.bias", sd[src + ".value.bias"])
        w16(dst + ".out.weight", sd[src + ".out.weight"])
        f32(dst + ".out.bias", sd[src + ".out.bias"])

    def block(dst, src, cross):
        f32(dst + ".mlp_ln.weight", sd[src + ".mlp_ln.weight"])
        f32(dst + ".mlp_ln.bias", sd[src + ".mlp_ln.bias"])
        w16(dst + ".mlp.0.weight", sd[src + ".mlp.0.weight"])
        f32(dst + ".mlp.0.bias", sd[src + ".mlp.0.bias"])
        w16(dst + ".mlp.2.weight", sd[src + ".mlp.2.weight"])
        f32(dst + ".mlp.2.bias", sd[src + ".mlp.2.bias"])
        f32(dst + ".attn_ln.weight", sd[src + ".attn_ln.weight"])
        f32(dst + ".attn_ln.bias", sd[src + ".attn_ln.bias"])
        attn(dst + ".attn", src + ".attn")
        if cross:
            f32(dst + ".cross_attn_ln.weight", sd[src + ".cross_attn_ln.weight"])
            f32(dst + ".cross_attn_ln.bias", sd[src + ".cross_attn_ln.bias"])
            attn(dst + ".cross_attn", src + ".cross_attn")

    f32("encoder.positional_embedding", sd["encoder.positional_embedding"])
    w16("encoder.conv1.weight", sd["encoder.conv1.weight"])
    f32("encoder.conv1.bias", sd["encoder.conv1.bias"][:, None])
    w16("encoder.conv2.weight", sd["encoder.conv2.weight"])
    f32("encoder.conv2.bias", sd["encoder.conv2.bias"][:, None])
    f32("encoder.ln_post.weight", sd["encoder.ln_post.weight"])
    f32("encoder.ln_post.bias", sd["encoder.ln_post.bias"])
    for i in range(model.dims["enc_layers"]):
        block(f"encoder.blocks.{i}", f"encoder.blocks.{i}", False)
    f32("decoder.positional_embedding", sd["decoder.positional_embedding"])
    w16("decoder.token_embedding.weight", token_embedding(model))
    ln_w, ln_b = sd["decoder.ln.weight"].copy(), sd["decoder.ln.bias"].copy()
    ln_w[0], ln_b[0] = 0.0, 1.0  # the constant channel
    f32("decoder.ln.weight", ln_w)
    f32("decoder.ln.bias", ln_b)
    for i in range(model.dims["dec_layers"]):
        block(f"decoder.blocks.{i}", f"decoder.blocks.{i}", True)
    return out


def write(model, path):
    d, h = model.dims["d"], model.dims["heads"]
    vocab = model.decoder.vocab
    with open(path, "wb") as f:
        f.write(struct.pack("<I", 0x67676D6C))
        f.write(struct.pack("<11i", N_VOCAB, N_AUDIO_CTX, d, h, model.dims["enc_layers"],
                            N_TEXT_CTX, d, h, model.dims["dec_layers"], N_MELS, 1))
        filters = mel_filters()
        f.write(struct.pack("<2i", *filters.shape))
        f.write(filters.astype("<f4").tobytes())
        f.write(struct.pack("<i", vocab.n_text))
        for t in vocab.texts:
            b = t.encode()
            f.write(struct.pack("<I", len(b)) + b)
        for name, a, ttype in tensors(model):
            ne = list(reversed(a.shape))
            nb = name.encode()
            f.write(struct.pack("<3i", len(ne), len(nb), ttype))
            f.write(struct.pack(f"<{len(ne)}i", *ne))
            f.write(nb)
            f.write(a.astype(a.dtype.newbyteorder("<")).tobytes())


def read(path, vocab, frame_classes):
    """The model in a file write made, its matrices as rounded to f16 there. The parts a
    file leaves out come back as whisper.cpp sees them: the timestamp rows' map refitted
    to the rows (exact up to rounding), channel 0 of the final norm unused; the auxiliary
    heads, never written, start untrained."""
    buf = open(path, "rb").read()
    off = 0

    def ints(n, fmt="i"):
        nonlocal off
        v = struct.unpack_from(f"<{n}{fmt}", buf, off)
        off += 4 * n
        return v

    if ints(1, "I")[0] != 0x67676D6C:
        raise ValueError(f"{path}: not a ggml file")
    _, _, d, heads, enc_layers, _, _, _, dec_layers, _, _ = ints(11)
    rows, cols = ints(2)
    off += 4 * rows * cols
    texts = []
    for _ in range(ints(1)[0]):
        n = ints(1, "I")[0]
        texts.append(buf[off:off + n].decode())
        off += n
    if texts != vocab.texts:
        raise ValueError(f"{path}: its vocabulary is not the corpus's")
    arrays = {}
    while off < len(buf):
        n_dims, name_len, ttype = ints(3)
        ne = ints(n_dims)
        name = buf[off:off + name_len].decode()
        off += name_len
        dt = np.dtype("<f2" if ttype == 1 else "<f4")
        count = int(np.prod(ne))
        arrays[name] = np.frombuffer(buf, dtype=dt, count=count, offset=off).reshape(ne[::-1]).astype(np.float32)
        off += count * dt.itemsize

    model = Whisper(vocab, d=d, heads=heads, enc_layers=enc_layers, dec_layers=dec_layers, frame_classes=frame_classes)
    sd = model.state_dict()
    full = arrays.pop("decoder.token_embedding.weight")
    sd["decoder.embed.weight"] = torch.from_numpy(full[[vocab.whisper_id(i) for i in range(vocab.beg)]])
    feats = model.decoder.ts_features.numpy()
    ts_rows = full[BEG:BEG + len(feats)]
    sol = np.linalg.lstsq(np.hstack([feats, np.ones((len(feats), 1), np.float32)]), ts_rows, rcond=None)[0]
    sd["decoder.ts_proj.weight"] = torch.from_numpy(np.ascontiguousarray(sol[:-1].T))
    sd["decoder.ts_proj.bias"] = torch.from_numpy(np.ascontiguousarray(sol[-1]))
    for name, a in arrays.items():
        if name not in sd:
            raise ValueError(f"{path}: unknown tensor {name}")
        sd[name] = torch.from_numpy(a.reshape(sd[name].shape))
    missing = [k for k in sd if k not in arrays and not k.startswith(("frame_head.", "word_head.", "decoder.embed.", "decoder.ts_"))]
    if missing:
        raise ValueError(f"{path}: lacks {missing}")
    model.load_state_dict(sd)
    return model
