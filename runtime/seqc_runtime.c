/*===- seqc_runtime.c - What generated kernels need at run time -----------===*
 *
 * Compiled to LLVM bitcode when seqc is built and linked into every module
 * seqc generates, with internal linkage, so an object file from seqc needs
 * nothing beyond libc, libm and pthreads (as Halide's runtime does).
 *
 * seqc_parallel_for splits [0, n) into one contiguous range per thread. It
 * starts threads per call (no pool: a kernel call is long next to a thread
 * start, and a pool would outlive the caller's dlclose), runs the first range
 * on the calling thread, and falls back to running a range inline when a
 * thread cannot be started, so it never fails.
 *
 *===----------------------------------------------------------------------===*/
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

typedef void (*seqc_body_fn)(void *ctx, int64_t begin, int64_t end);

enum { kMaxThreads = 256 };
/* Work (in the cost unit of convert-parallel-to-runtime, about one
 * arithmetic operation) below which a further thread does not pay. */
static const int64_t kWorkPerThread = 200000;

struct seqc_task {
  seqc_body_fn fn;
  void *ctx;
  int64_t begin, end;
};

static void *seqc_run_task(void *arg) {
  struct seqc_task *task = (struct seqc_task *)arg;
  task->fn(task->ctx, task->begin, task->end);
  return 0;
}

/* SEQC_NUM_THREADS caps the threads; by default, the online cores. */
static int64_t seqc_thread_limit(void) {
  const char *env = getenv("SEQC_NUM_THREADS");
  int64_t limit = 0;
  if (env && *env) {
    char *end = 0;
    long value = strtol(env, &end, 10);
    if (end && *end == 0 && value > 0)
      limit = value;
  }
  if (limit <= 0)
    limit = sysconf(_SC_NPROCESSORS_ONLN);
  if (limit < 1)
    limit = 1;
  if (limit > kMaxThreads)
    limit = kMaxThreads;
  return limit;
}

void seqc_parallel_for(int64_t n, seqc_body_fn fn, void *ctx, int64_t cost) {
  if (n <= 0)
    return;
  int64_t threads = seqc_thread_limit();
  if (threads > n)
    threads = n;
  if (cost < 1)
    cost = 1;
  int64_t worthwhile = n > INT64_MAX / cost ? threads : n * cost / kWorkPerThread;
  if (worthwhile < threads)
    threads = worthwhile < 1 ? 1 : worthwhile;
  if (threads <= 1) {
    fn(ctx, 0, n);
    return;
  }
  pthread_t ids[kMaxThreads];
  int started[kMaxThreads];
  struct seqc_task tasks[kMaxThreads];
  for (int64_t i = 0; i < threads; ++i) {
    tasks[i].fn = fn;
    tasks[i].ctx = ctx;
    tasks[i].begin = n * i / threads;
    tasks[i].end = n * (i + 1) / threads;
  }
  for (int64_t i = 1; i < threads; ++i)
    started[i] = pthread_create(&ids[i], 0, seqc_run_task, &tasks[i]) == 0;
  seqc_run_task(&tasks[0]);
  for (int64_t i = 1; i < threads; ++i) {
    if (started[i])
      pthread_join(ids[i], 0);
    else
      seqc_run_task(&tasks[i]);
  }
}
