/* LAPACK routines that libopenblas exports (Debian's libopenblas-dev ships no LAPACK header),
   for the estimators of BERGAnalysis. Fortran calling convention: every argument by pointer;
   the trailing size_t arguments are the lengths of the character arguments. */
#include <stddef.h>

/* Symmetric eigenproblem, MRRR: selected (range 'I') or all (range 'A') eigenpairs. */
void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
             const int *lda, const double *vl, const double *vu, const int *il, const int *iu,
             const double *abstol, int *m, double *w, double *z, const int *ldz, int *isuppz,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t range_len, size_t uplo_len);

/* Symmetric eigenproblem, divide and conquer: all eigenpairs (faster than MRRR for all). */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
             const int *lwork, int *iwork, const int *liwork, int *info, size_t jobz_len, size_t uplo_len);

/* Cholesky factorisation of a symmetric positive definite matrix, and solves with it. */
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);
void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda,
             double *b, const int *ldb, int *info, size_t uplo_len);

/* General square solve by LU with partial pivoting. */
void dgesv_(const int *n, const int *nrhs, double *a, const int *lda, int *ipiv, double *b,
            const int *ldb, int *info);
