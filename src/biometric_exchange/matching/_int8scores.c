/* Approximate scores of int8 probes against int8 gallery codes (see quantized.py).

   Gallery codes sit in panels of 16 rows: a panel is `groups` words of 16
   lanes, word k of lane r holding the 4 int8 codes of dimensions 4k..4k+3 of
   the panel's row r. So one 64-byte load feeds one AVX-512 VNNI instruction
   (vpdpbusd: 16 rows x 4 dimensions) and a panel is read front to back.

   For probe i (int8 codes p_i packed the same way, scale coef_i = -2 t_i) and
   row j (scale s_j, squared norm n_j):

       out[i, j] = (coef_i * s_j) * float(dot(p_i, c_j)) + n_j

   each operation rounded once to float32, in that order (no fused
   multiply-add), on every path. dot() is exact in int32. vpdpbusd multiplies
   unsigned by signed bytes, so the codes are flipped to c + 128 and
   128 * sum(p_i) is taken off again.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define HAVE_VNNI_PATH 1
#include <immintrin.h>
#endif

typedef struct {
    const int32_t *panels; /* the first panel of the span */
    Py_ssize_t groups;     /* words per lane */
    Py_ssize_t rows;       /* rows of the span (the last panel may be partial) */
    const int32_t *probes; /* probes x groups words */
    Py_ssize_t count;      /* probes */
    const int32_t *offsets;/* per probe: 128 * sum of its codes */
    const float *coefs;    /* per probe */
    const float *scales;   /* per row */
    const float *norms;    /* per row */
    float *out;            /* count x out_stride */
    Py_ssize_t out_stride;
} Job;

static inline float finish(const Job *job, Py_ssize_t i, Py_ssize_t j, int32_t dot) {
    volatile float scaled = job->coefs[i] * job->scales[j];
    volatile float product = scaled * (float)dot;
    return product + job->norms[j];
}

static void scores_plain(const Job *job) {
    for (Py_ssize_t i = 0; i < job->count; i++) {
        const int8_t *probe = (const int8_t *)(job->probes + i * job->groups);
        for (Py_ssize_t j = 0; j < job->rows; j++) {
            const int32_t *panel = job->panels + (j / 16) * job->groups * 16;
            int32_t dot = 0;
            for (Py_ssize_t k = 0; k < job->groups; k++) {
                const int8_t *code = (const int8_t *)(panel + k * 16 + j % 16);
                for (int m = 0; m < 4; m++) {
                    dot += (int32_t)code[m] * (int32_t)probe[4 * k + m];
                }
            }
            job->out[i * job->out_stride + j] = finish(job, i, j, dot);
        }
    }
}

#ifdef HAVE_VNNI_PATH
#define TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))

TARGET static inline void store(const Job *job, Py_ssize_t i, Py_ssize_t first, __m512i acc) {
    Py_ssize_t left = job->rows - first;
    __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
    __m512i dot = _mm512_sub_epi32(acc, _mm512_set1_epi32(job->offsets[i]));
    __m512 scale = _mm512_maskz_loadu_ps(mask, job->scales + first);
    __m512 norm = _mm512_maskz_loadu_ps(mask, job->norms + first);
    __m512 scaled = _mm512_mul_ps(_mm512_set1_ps(job->coefs[i]), scale);
    __m512 product = _mm512_mul_ps(scaled, _mm512_cvtepi32_ps(dot));
    _mm512_mask_storeu_ps(job->out + i * job->out_stride + first, mask,
                          _mm512_add_ps(product, norm));
}

/* NP probes, one panel at a time (read front to back, the next panels
   prefetched), SPLIT accumulators per probe over the words of a lane. */
#define PREFETCH_PANELS 2
#define KERNEL(NP, SPLIT)                                                               \
    TARGET static void kernel_##NP(const Job *job, Py_ssize_t probe) {                  \
        const __m512i flip = _mm512_set1_epi8((char)0x80);                              \
        const Py_ssize_t groups = job->groups;                                          \
        const int32_t *words = job->probes + probe * groups;                            \
        Py_ssize_t panels = (job->rows + 15) / 16;                                      \
        Py_ssize_t ahead = PREFETCH_PANELS * groups * 16;                               \
        const int32_t *end = job->panels + panels * groups * 16;                        \
        for (Py_ssize_t c = 0; c < panels; c++) {                                       \
            const int32_t *panel = job->panels + c * groups * 16;                       \
            if (panel + ahead < end)                                                    \
                for (Py_ssize_t line = 0; line < groups; line++)                        \
                    _mm_prefetch((const char *)(panel + ahead + line * 16), _MM_HINT_T0); \
            __m512i acc[NP][SPLIT];                                                     \
            for (int i = 0; i < NP; i++)                                                \
                for (int s = 0; s < SPLIT; s++) acc[i][s] = _mm512_setzero_si512();     \
            Py_ssize_t k = 0;                                                           \
            for (; k + SPLIT <= groups; k += SPLIT)                                     \
                for (int s = 0; s < SPLIT; s++) {                                       \
                    __m512i codes = _mm512_xor_si512(                                   \
                        _mm512_loadu_si512(panel + (k + s) * 16), flip);                \
                    for (int i = 0; i < NP; i++)                                        \
                        acc[i][s] = _mm512_dpbusd_epi32(                                \
                            acc[i][s], codes, _mm512_set1_epi32(words[i * groups + k + s])); \
                }                                                                       \
            for (; k < groups; k++) {                                                   \
                __m512i codes = _mm512_xor_si512(_mm512_loadu_si512(panel + k * 16), flip); \
                for (int i = 0; i < NP; i++)                                            \
                    acc[i][0] = _mm512_dpbusd_epi32(                                    \
                        acc[i][0], codes, _mm512_set1_epi32(words[i * groups + k]));    \
            }                                                                           \
            for (int i = 0; i < NP; i++) {                                              \
                __m512i sum = acc[i][0];                                                \
                for (int s = 1; s < SPLIT; s++) sum = _mm512_add_epi32(sum, acc[i][s]); \
                store(job, probe + i, c * 16, sum);                                     \
            }                                                                           \
        }                                                                               \
    }

KERNEL(1, 4)
KERNEL(2, 2)
KERNEL(4, 1)
KERNEL(8, 1)

/* Rows a stretch: every probe block runs over one stretch of panels (256 KiB of
   codes at 128-d) while it is in the core's cache, so several probes cost one
   read of the codes from memory. */
#define STRETCH_ROWS 2048

static void scores_vnni(const Job *job) {
    for (Py_ssize_t first = 0; first < job->rows; first += STRETCH_ROWS) {
        Job part = *job;
        part.panels = job->panels + (first / 16) * job->groups * 16;
        part.rows = job->rows - first < STRETCH_ROWS ? job->rows - first : STRETCH_ROWS;
        part.scales = job->scales + first;
        part.norms = job->norms + first;
        part.out = job->out + first;
        Py_ssize_t i = 0;
        for (; i + 8 <= job->count; i += 8) kernel_8(&part, i);
        for (; i + 4 <= job->count; i += 4) kernel_4(&part, i);
        for (; i + 2 <= job->count; i += 2) kernel_2(&part, i);
        for (; i < job->count; i++) kernel_1(&part, i);
    }
}

static int has_vnni(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
}
#else
static void scores_vnni(const Job *job) { scores_plain(job); }
static int has_vnni(void) { return 0; }
#endif

static int use_vnni = 0;

static int take(PyObject *object, Py_buffer *view, int writable, Py_ssize_t itemsize,
                Py_ssize_t needed, const char *name) {
    if (PyObject_GetBuffer(object, view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    if (view->itemsize != itemsize || view->len < needed * itemsize) {
        PyErr_Format(PyExc_ValueError, "%s: expected at least %zd items of %zd bytes", name,
                     needed, itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *scores(PyObject *self, PyObject *args) {
    PyObject *objects[7];
    Py_ssize_t groups, rows, count, out_stride;
    int plain = 0;
    if (!PyArg_ParseTuple(args, "OnnOOOOOOnn|p", &objects[0], &groups, &rows, &objects[1],
                          &objects[2], &objects[3], &objects[4], &objects[5], &objects[6],
                          &count, &out_stride, &plain))
        return NULL;
    if (groups < 1 || rows < 0 || count < 0 || out_stride < rows) {
        PyErr_SetString(PyExc_ValueError, "bad sizes");
        return NULL;
    }
    Py_buffer views[7];
    Py_ssize_t needed[7] = {(rows + 15) / 16 * 16 * groups, count * groups, count, count,
                            rows, rows, count > 0 ? (count - 1) * out_stride + rows : 0};
    const char *names[7] = {"panels", "probes", "offsets", "coefs", "scales", "norms", "out"};
    Py_ssize_t sizes[7] = {4, 4, 4, 4, 4, 4, 4};
    int taken = 0;
    for (; taken < 7; taken++) {
        if (take(objects[taken], &views[taken], taken == 6, sizes[taken], needed[taken],
                 names[taken]) < 0)
            break;
    }
    if (taken == 7) {
        Job job = {views[0].buf, groups, rows, views[1].buf, count, views[2].buf,
                   views[3].buf, views[4].buf, views[5].buf, views[6].buf, out_stride};
        Py_BEGIN_ALLOW_THREADS
        if (use_vnni && !plain)
            scores_vnni(&job);
        else
            scores_plain(&job);
        Py_END_ALLOW_THREADS
    }
    for (int i = 0; i < taken; i++) PyBuffer_Release(&views[i]);
    if (taken < 7) return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"scores", scores, METH_VARARGS,
     "scores(panels, groups, rows, probes, offsets, coefs, scales, norms, out, count, "
     "out_stride, plain=False): approximate scores of int8 probes (see the module source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_int8scores",
                                    "int8 panel scores (AVX-512 VNNI where the CPU has it).",
                                    -1, methods};

PyMODINIT_FUNC PyInit__int8scores(void) {
    PyObject *created = PyModule_Create(&module);
    if (created == NULL) return NULL;
    use_vnni = has_vnni();
    if (PyModule_AddStringConstant(created, "KERNEL", use_vnni ? "avx512-vnni" : "portable") < 0) {
        Py_DECREF(created);
        return NULL;
    }
    return created;
}
