// Small C layer over whisper.cpp and ggml for what the official Go bindings lack:
// context parameters, device listing, cancellation, timing and log routing.
#ifndef DICTATE_GLUE_H
#define DICTATE_GLUE_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <whisper.h>

typedef struct {
    int  cancel;          // set from Go (atomically) to stop the job
    int  eot;             // end-of-text token id, forced once cancelled
    int  n_vocab;
    uintptr_t handle;     // cgo.Handle for progress reports
    int64_t t_start_us;
    int64_t t_first_encode_us;
    int64_t t_encode_start_us;
    int64_t encode_us;
    int  in_encode;
    int  windows;
    int  steps;
} dictate_job;

typedef struct {
    char name[128];
    char description[256];
    int  type;            // enum ggml_backend_dev_type
    size_t memory_free;
    size_t memory_total;
} dictate_device;

void dictate_init_backends(void);
int  dictate_device_count(void);
void dictate_device_get(int i, dictate_device * out);
int  dictate_gpu_device_index(int gpu_ordinal);

struct whisper_context * dictate_load(const char * path, bool use_gpu, int gpu_device, bool flash_attn);
struct whisper_full_params * dictate_params_new(int beam_size);
void dictate_params_free(struct whisper_full_params * p);
int  dictate_params_set_prompt(struct whisper_context * ctx, struct whisper_full_params * p, const char * prompt);
int  dictate_full(struct whisper_context * ctx, struct whisper_full_params * p, const float * pcm, int n, dictate_job * job);
void dictate_job_cancel(dictate_job * job);
int64_t dictate_now_us(void);

// Model conversion: ggml's row quantisers and f16 conversions.
size_t dictate_quantize_rows(int type, const float * src, void * dst, int64_t nrows, int64_t n_per_row);
void dictate_f16_to_f32(const uint16_t * src, float * dst, int64_t n);
void dictate_f32_to_f16(const float * src, uint16_t * dst, int64_t n);

#endif
