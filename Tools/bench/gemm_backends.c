// sgemm per backend on the GEMM shapes of BERG's networks: OpenBLAS as the environment pins it
// (OPENBLAS_CORETYPE), oneDNN's dnnl_sgemm, and BLIS's native API (bli_sgemm_ex with a per-call
// rntm_t thread count, loaded with dlopen so that its CBLAS symbols never shadow OpenBLAS's).
// BLIS is not used by BERG (it lost on every shape, README "Speed"); this program is how that
// was measured. It prints the BLIS sub-configuration chosen for this CPU.
//
//   apt-get install libopenblas-dev libdnnl-dev libblis-dev
//   gcc -O2 -fopenmp Tools/bench/gemm_backends.c -o /tmp/gemm_backends -lopenblas -ldnnl -ldl
//   /work/quiet.sh /tmp/gemm_backends 2        (threads; run under quiet.sh on the shared machine)
//   BLIS_ARCH_TYPE=0 /tmp/gemm_backends 2     (BLIS forced to its skx (AVX-512) kernels, for comparison)
//
// Library versions measured: OpenBLAS 0.3.21, oneDNN 2.6.3, BLIS 0.9.0 (Debian bookworm).
#include <cblas.h>
#include <dlfcn.h>
#include <dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef long dim_t;
typedef long inc_t;
// BLIS 0.9.0's rntm_t (frame/base/bli_type_defs.h), the per-call thread setting.
typedef struct { _Bool auto_factor; dim_t num_threads; dim_t thrloop[6]; _Bool pack_a, pack_b, l3_sup; void *sba, *pba; } rntm_t;
typedef void (*bli_sgemm_ex_t)(int, int, dim_t, dim_t, dim_t, float *, float *, inc_t, inc_t, float *, inc_t, inc_t,
                               float *, float *, inc_t, inc_t, void *, rntm_t *);
typedef int (*bli_arch_query_id_t)(void);
typedef const char *(*bli_arch_string_t)(int);
extern void openblas_set_num_threads(int);

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

typedef struct { const char *name; int m, n, k; char tb; } shape;
// C[m×n] = A[m×k] · op(B), row-major; B is [k×n] ('N') or [n×k] ('T').
static const shape shapes[] = {
    {"sgemm 2048^3", 2048, 2048, 2048, 'N'},
    {"ResNet-18 conv1 im2col", 64, 12544, 147, 'N'},
    {"ResNet-18 layer1 Winograd", 64, 784, 64, 'N'},
    {"ResNet-18 layer3 Winograd", 256, 490, 256, 'N'},
    {"ResNet-18 layer4 3x3/2 im2col", 512, 1568, 2304, 'N'},
    {"AlexNet conv2 im2col", 192, 1458, 1600, 'N'},
    {"AlexNet conv4 Winograd", 256, 490, 384, 'N'},
    {"AlexNet classifier.1", 64, 4096, 9216, 'T'},
    {"ViT-B/32 conv_proj im2col", 768, 1568, 3072, 'N'},
    {"ViT-B/32 in_proj", 3200, 2304, 768, 'T'},
    {"ViT-B/32 mlp.0", 3200, 3072, 768, 'T'},
    {"ViT-B/32 mlp.3", 3200, 768, 3072, 'T'},
    {"ViT-B/32 attention Q.K^T", 50, 50, 64, 'T'},
    {"fwRF V1 readout", 338, 1024, 729, 'T'},
    {"fwRF conv4a Winograd", 128, 507, 128, 'N'},
};

static bli_sgemm_ex_t blis_sgemm;

static void run(int lib, const shape *s, float *a, float *b, float *c, int threads) {
    int ldb = s->tb == 'N' ? s->n : s->k;
    if (lib == 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, s->tb == 'N' ? CblasNoTrans : CblasTrans, s->m, s->n, s->k, 1, a, s->k, b, ldb, 0, c, s->n);
    } else if (lib == 1) {
        dnnl_sgemm('N', s->tb, s->m, s->n, s->k, 1, a, s->k, b, ldb, 0, c, s->n);
    } else {
        float one = 1, zero = 0;
        rntm_t r = {1, threads, {-1, -1, -1, -1, -1, -1}, 0, 0, 1, 0, 0};
        inc_t rsb = s->tb == 'N' ? s->n : 1, csb = s->tb == 'N' ? 1 : s->k;
        blis_sgemm(0, 0, s->m, s->n, s->k, &one, a, s->k, 1, b, rsb, csb, &zero, c, s->n, 1, NULL, &r);
    }
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    void *blis = dlopen("libblis.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!blis) { fprintf(stderr, "libblis.so.4 not found (apt-get install libblis-dev)\n"); return 1; }
    blis_sgemm = (bli_sgemm_ex_t)dlsym(blis, "bli_sgemm_ex");
    bli_arch_query_id_t arch = (bli_arch_query_id_t)dlsym(blis, "bli_arch_query_id");
    bli_arch_string_t arch_name = (bli_arch_string_t)dlsym(blis, "bli_arch_string");
    openblas_set_num_threads(threads);
    omp_set_num_threads(threads);
    size_t size = 4L * 3200 * 3072 + 64;
    float *a = malloc(size * 4), *b = malloc(size * 4), *c = malloc(size * 4);
    for (size_t i = 0; i < size; i++) { a[i] = (rand() % 2000 - 1000) / 1000.f; b[i] = (rand() % 2000 - 1000) / 1000.f; }
    run(2, &shapes[0], a, b, c, threads);  // BLIS picks its configuration on first use
    printf("threads %d; OpenBLAS %s; BLIS sub-configuration '%s'\n", threads, getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(auto)",
           arch_name(arch()));
    printf("%-30s %5s %6s %5s %10s %10s %10s   GFLOP/s\n", "shape", "M", "N", "K", "OpenBLAS", "oneDNN", "BLIS");
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const shape *s = &shapes[i];
        printf("%-30s %5d %6d %5d", s->name, s->m, s->n, s->k);
        for (int lib = 0; lib < 3; lib++) {
            double flop = 2.0 * s->m * s->n * s->k;
            int reps = (int)(2e9 / flop) + 1;  // about 2 GFLOP per timing
            run(lib, s, a, b, c, threads);
            double best = 1e30;
            for (int t = 0; t < 3; t++) {
                double start = now();
                for (int r = 0; r < reps; r++) run(lib, s, a, b, c, threads);
                double seconds = now() - start;
                if (seconds < best) best = seconds;
            }
            printf(" %10.1f", flop * reps / best / 1e9);
            fflush(stdout);
        }
        printf("\n");
    }
    return 0;
}
