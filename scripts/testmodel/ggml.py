"""Writes a model as whisper.cpp's ggml file (see shared notes: the legacy format)."""

import struct

import numpy as np
import torch

from model import N_AUDIO_CTX, N_MELS, N_TEXT_CTX, N_VOCAB, UNUSED_LOGIT, mel_filters


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
