#include "glue.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ggml.h>
#include <ggml-backend.h>

extern void dictateLog(int level, char * text);
extern void dictateProgress(uintptr_t handle, int progress);

int64_t dictate_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void log_cb(enum ggml_log_level level, const char * text, void * user_data) {
    (void) user_data;
    dictateLog((int) level, (char *) text);
}

void dictate_init_backends(void) {
    // Route logs first: loading backends already logs. Debian's and Homebrew's ggml load
    // their CPU/GPU backends as modules; without this whisper aborts on GGML_ASSERT(device).
    ggml_log_set(log_cb, NULL);
    whisper_log_set(log_cb, NULL);
    ggml_backend_load_all();
}

int dictate_device_count(void) { return (int) ggml_backend_dev_count(); }

void dictate_device_get(int i, dictate_device * out) {
    ggml_backend_dev_t dev = ggml_backend_dev_get((size_t) i);
    memset(out, 0, sizeof(*out));
    strncpy(out->name, ggml_backend_dev_name(dev), sizeof(out->name) - 1);
    strncpy(out->description, ggml_backend_dev_description(dev), sizeof(out->description) - 1);
    out->type = (int) ggml_backend_dev_type(dev);
    ggml_backend_dev_memory(dev, &out->memory_free, &out->memory_total);
}

// The device whisper.cpp picks for gpu_device: the n-th GPU (discrete or integrated).
int dictate_gpu_device_index(int gpu_ordinal) {
    int seen = 0;
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        enum ggml_backend_dev_type t = ggml_backend_dev_type(ggml_backend_dev_get(i));
        if (t == GGML_BACKEND_DEVICE_TYPE_GPU || t == GGML_BACKEND_DEVICE_TYPE_IGPU) {
            if (seen++ == gpu_ordinal) return (int) i;
        }
    }
    return -1;
}

struct whisper_context * dictate_load(const char * path, bool use_gpu, int gpu_device, bool flash_attn) {
    struct whisper_context_params cp = whisper_context_default_params();
    cp.use_gpu = use_gpu;
    cp.gpu_device = gpu_device;
    cp.flash_attn = flash_attn;
    return whisper_init_from_file_with_params(path, cp);
}

struct whisper_full_params * dictate_params_new(int beam_size) {
    struct whisper_full_params * p = malloc(sizeof(*p));
    *p = whisper_full_default_params(beam_size > 1 ? WHISPER_SAMPLING_BEAM_SEARCH : WHISPER_SAMPLING_GREEDY);
    if (beam_size > 1) p->beam_search.beam_size = beam_size;
    p->print_progress = false;
    p->print_realtime = false;
    p->print_special = false;
    p->print_timestamps = false;
    p->initial_prompt = NULL;
    p->prompt_tokens = NULL;
    p->prompt_n_tokens = 0;
    return p;
}

// Tokenises prompt once, here, so the caller knows its length; whisper_full then uses the
// tokens as they are. Returns the number of tokens, or -1 on failure.
int dictate_params_set_prompt(struct whisper_context * ctx, struct whisper_full_params * p, const char * prompt) {
    free((void *) p->prompt_tokens);
    p->prompt_tokens = NULL;
    p->prompt_n_tokens = 0;
    // A token is at least a byte: strlen tokens always suffice (a shorter buffer would
    // make whisper_tokenize log an error).
    int n_max = (int) strlen(prompt) + 1;
    whisper_token * tokens = malloc(sizeof(whisper_token) * (size_t) n_max);
    if (!tokens) return -1;
    int n = whisper_tokenize(ctx, prompt, tokens, n_max);
    if (n < 0) {
        free(tokens);
        return -1;
    }
    p->prompt_tokens = tokens;
    p->prompt_n_tokens = n;
    return n;
}

void dictate_params_free(struct whisper_full_params * p) {
    if (!p) return;
    free((void *) p->prompt_tokens);
    free(p);
}

static bool job_cancelled(dictate_job * job) { return __atomic_load_n(&job->cancel, __ATOMIC_RELAXED) != 0; }

static bool abort_cb(void * data) { return job_cancelled((dictate_job *) data); }

static bool encoder_begin_cb(struct whisper_context * ctx, struct whisper_state * state, void * data) {
    (void) ctx; (void) state;
    dictate_job * job = data;
    int64_t t = dictate_now_us();
    if (job->windows++ == 0) job->t_first_encode_us = t;
    job->t_encode_start_us = t;
    job->in_encode = 1;
    return !job_cancelled(job);
}

// Called once per sampling step, after the encoder for the window has finished. whisper.cpp
// does not hand the abort callback to its scheduler, so a cancelled job forces end-of-text
// here to end the window at the next token.
static void logits_cb(struct whisper_context * ctx, struct whisper_state * state,
                      const whisper_token_data * tokens, int n_tokens, float * logits, void * data) {
    (void) ctx; (void) state; (void) tokens; (void) n_tokens;
    dictate_job * job = data;
    if (job->in_encode) {
        job->encode_us += dictate_now_us() - job->t_encode_start_us;
        job->in_encode = 0;
    }
    job->steps++;
    if (job_cancelled(job)) {
        for (int i = 0; i < job->n_vocab; i++) logits[i] = -INFINITY;
        logits[job->eot] = 0;
    }
}

static void progress_cb(struct whisper_context * ctx, struct whisper_state * state, int progress, void * data) {
    (void) ctx; (void) state;
    dictateProgress(((dictate_job *) data)->handle, progress);
}

int dictate_full(struct whisper_context * ctx, struct whisper_full_params * p, const float * pcm, int n, dictate_job * job) {
    struct whisper_full_params params = *p;
    job->eot = whisper_token_eot(ctx);
    job->n_vocab = whisper_n_vocab(ctx);
    job->t_start_us = dictate_now_us();
    params.abort_callback = abort_cb;
    params.abort_callback_user_data = job;
    params.encoder_begin_callback = encoder_begin_cb;
    params.encoder_begin_callback_user_data = job;
    params.logits_filter_callback = logits_cb;
    params.logits_filter_callback_user_data = job;
    params.progress_callback = progress_cb;
    params.progress_callback_user_data = job;
    params.new_segment_callback = NULL;
    params.new_segment_callback_user_data = NULL;
    return whisper_full(ctx, params, pcm, n);
}

void dictate_job_cancel(dictate_job * job) { __atomic_store_n(&job->cancel, 1, __ATOMIC_RELAXED); }

size_t dictate_quantize_rows(int type, const float * src, void * dst, int64_t nrows, int64_t n_per_row) {
    ggml_quantize_init((enum ggml_type) type);
    return ggml_quantize_chunk((enum ggml_type) type, src, dst, 0, nrows, n_per_row, NULL);
}

void dictate_f16_to_f32(const uint16_t * src, float * dst, int64_t n) {
    ggml_fp16_to_fp32_row((const ggml_fp16_t *) src, dst, n);
}

void dictate_f32_to_f16(const float * src, uint16_t * dst, int64_t n) {
    ggml_fp32_to_fp16_row(src, (ggml_fp16_t *) dst, n);
}
