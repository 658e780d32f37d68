#include <cblas.h>

/* LAPACK's symmetric eigensolver (MRRR), which libopenblas exports; Debian's libopenblas-dev
   ships no LAPACK header. The trailing size_t arguments are the Fortran lengths of the three
   character arguments. */
#include <stddef.h>
void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
             const int *lda, const double *vl, const double *vu, const int *il, const int *iu,
             const double *abstol, int *m, double *w, double *z, const int *ldz, int *isuppz,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t range_len, size_t uplo_len);
