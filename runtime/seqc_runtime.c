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
 * Every kernel call runs inside seqc_call_guarded, and every buffer the
 * kernel allocates comes from the allocator below (finalize-memref-to-llvm
 * with use-generic-functions), so a failed allocation does not crash the
 * caller: the failing thread leaves its task, the others finish theirs, and
 * the call frees what it had allocated and returns SEQC_STATUS_NO_MEMORY.
 *
 * seqc_scan_plan decides how a linear scan is split across threads: over
 * batch rows first, then over blocks of channels, and over time (the
 * three-phase chunked scan) only where its cost model says that pays; the
 * model needs the machine's streaming bandwidth on one thread and on all,
 * which it measures once per process (or reads from SEQC_BANDWIDTH).
 *
 *===----------------------------------------------------------------------===*/
#include "seqc/Runtime/seqc_abi.h"

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { kMaxThreads = 256 };
/* Work (in the cost unit of convert-parallel-to-runtime, about one
 * arithmetic operation) below which a further thread does not pay. */
static const int64_t kWorkPerThread = 200000;

/*===----------------------------------------------------------------------===*
 * Guarded calls and their allocations
 *===----------------------------------------------------------------------===*/

/* Each allocation carries this header, linking it into the list of what
 * the current task (or the call's own thread) has allocated, so that a
 * failed call can free everything. Lists are per thread, so allocating
 * takes no lock: the lowering frees a buffer in the region that allocated
 * it, so on the thread that allocated it. 32 bytes keep the user's memory
 * 16-byte aligned, as malloc's. */
struct seqc_block {
  struct seqc_block *prev, *next;
  size_t capacity; /* bytes after the header */
  size_t pad;
};

/* Big buffers freed by one call are kept for the next: a fresh [B, T, H]
 * buffer from malloc is fresh pages from the kernel, and a kernel whose
 * intermediates are faulted in at every call spent half its time in page
 * faults (minGRU, B = 8, T = 4096). At most kCacheBytes are kept, in
 * blocks of at least kCacheMinBytes; SEQC_CACHE_MB sets the limit (0: keep
 * nothing). */
static const size_t kCacheMinBytes = (size_t)1 << 20;
static const size_t kCacheDefaultBytes = (size_t)256 << 20;
enum { kCacheSlots = 16 };
static struct seqc_block *seqc_cache[kCacheSlots];
static size_t seqc_cache_bytes;
static pthread_mutex_t seqc_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t seqc_cache_limit(void) {
  static size_t limit = (size_t)-1;
  if (limit == (size_t)-1) {
    const char *env = getenv("SEQC_CACHE_MB");
    char *end = 0;
    long value = env && *env ? strtol(env, &end, 10) : -1;
    limit = end && *end == 0 && value >= 0 ? (size_t)value << 20 : kCacheDefaultBytes;
  }
  return limit;
}

/* A cached block of at least `size` bytes, and at most twice that. */
static struct seqc_block *seqc_cache_take(size_t size) {
  struct seqc_block *found = 0;
  pthread_mutex_lock(&seqc_cache_lock);
  int best = -1;
  for (int i = 0; i < kCacheSlots; ++i) {
    struct seqc_block *block = seqc_cache[i];
    if (block && block->capacity >= size && block->capacity / 2 <= size &&
        (best < 0 || block->capacity < seqc_cache[best]->capacity))
      best = i;
  }
  if (best >= 0) {
    found = seqc_cache[best];
    seqc_cache[best] = 0;
    seqc_cache_bytes -= found->capacity;
  }
  pthread_mutex_unlock(&seqc_cache_lock);
  return found;
}

/* Frees every cached block when the kernel's object goes away: at exit, or
 * at the dlclose of a library built from it (seqc check, a Python module),
 * which would otherwise lose up to the cache's limit at every unload. */
__attribute__((destructor)) static void seqc_cache_release(void) {
  pthread_mutex_lock(&seqc_cache_lock);
  for (int i = 0; i < kCacheSlots; ++i) {
    free(seqc_cache[i]);
    seqc_cache[i] = 0;
  }
  seqc_cache_bytes = 0;
  pthread_mutex_unlock(&seqc_cache_lock);
}

/* Keeps `block` for later if there is room; else frees it. */
static void seqc_cache_put(struct seqc_block *block) {
  if (block->capacity >= kCacheMinBytes) {
    pthread_mutex_lock(&seqc_cache_lock);
    for (int i = 0; i < kCacheSlots; ++i)
      if (!seqc_cache[i] && seqc_cache_bytes + block->capacity <= seqc_cache_limit()) {
        seqc_cache[i] = block;
        seqc_cache_bytes += block->capacity;
        block = 0;
        break;
      }
    pthread_mutex_unlock(&seqc_cache_lock);
  }
  free(block);
}

struct seqc_call {
  jmp_buf failure;
  volatile int failed;
};

/* The call this thread works for, where its current task ends early, and
 * what it has allocated and not yet freed. */
static __thread struct seqc_call *seqc_current_call;
static __thread jmp_buf *seqc_task_exit;
static __thread struct seqc_block *seqc_blocks;

static void seqc_fail(struct seqc_call *call) {
  __atomic_store_n(&call->failed, 1, __ATOMIC_SEQ_CST);
  if (seqc_task_exit)
    longjmp(*seqc_task_exit, 1);
  longjmp(call->failure, 1);
}

static void seqc_free_blocks(void) {
  while (seqc_blocks) {
    struct seqc_block *next = seqc_blocks->next;
    seqc_cache_put(seqc_blocks);
    seqc_blocks = next;
  }
}

void *_mlir_memref_to_llvm_alloc(size_t size) {
  struct seqc_block *block = size >= kCacheMinBytes ? seqc_cache_take(size) : 0;
  if (!block) {
    block = (struct seqc_block *)malloc(sizeof(struct seqc_block) + size);
    if (block)
      block->capacity = size;
  }
  if (!block) {
    if (seqc_current_call)
      seqc_fail(seqc_current_call);
    return 0;
  }
  block->prev = 0;
  block->next = seqc_blocks;
  if (seqc_blocks)
    seqc_blocks->prev = block;
  seqc_blocks = block;
  return block + 1;
}

void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t size) {
  /* Not emitted (seqc does not ask for use-aligned-alloc); alignment up to
   * 16 is what malloc gives. */
  (void)alignment;
  return _mlir_memref_to_llvm_alloc(size);
}

void _mlir_memref_to_llvm_free(void *pointer) {
  if (!pointer)
    return;
  struct seqc_block *block = (struct seqc_block *)pointer - 1;
  if (block->prev)
    block->prev->next = block->next;
  else
    seqc_blocks = block->next;
  if (block->next)
    block->next->prev = block->prev;
  seqc_cache_put(block);
}

/* Runs body(args), the kernel; returns its status, or SEQC_STATUS_NO_MEMORY
 * when an allocation failed, after freeing what the call had allocated. */
int seqc_call_guarded(int (*body)(void *), void *args) {
  struct seqc_call call;
  call.failed = 0;
  struct seqc_call *outerCall = seqc_current_call;
  jmp_buf *outerExit = seqc_task_exit;
  struct seqc_block *outerBlocks = seqc_blocks;
  seqc_current_call = &call;
  seqc_task_exit = 0;
  seqc_blocks = 0;
  volatile int status = SEQC_STATUS_NO_MEMORY;
  if (setjmp(call.failure) == 0)
    status = body(args);
  /* Whatever is left (everything, after a failure) is freed. */
  seqc_free_blocks();
  seqc_current_call = outerCall;
  seqc_task_exit = outerExit;
  seqc_blocks = outerBlocks;
  return status;
}

/*===----------------------------------------------------------------------===*
 * Parallel loops
 *===----------------------------------------------------------------------===*/

struct seqc_task {
  seqc_body_fn fn;
  void *ctx;
  int64_t begin, end;
  struct seqc_call *call;
};

/* Runs one task; an allocation failure inside ends the task early (the call
 * is marked failed, and seqc_parallel_for ends the call once all tasks are
 * joined: no thread may still write into buffers being freed). */
static void *seqc_run_task(void *arg) {
  struct seqc_task *task = (struct seqc_task *)arg;
  struct seqc_call *outerCall = seqc_current_call;
  jmp_buf *outerExit = seqc_task_exit;
  struct seqc_block *outerBlocks = seqc_blocks;
  jmp_buf exit;
  seqc_current_call = task->call;
  seqc_task_exit = &exit;
  seqc_blocks = 0;
  if (setjmp(exit) == 0)
    task->fn(task->ctx, task->begin, task->end);
  /* What a task allocated is its own: after a failure, nothing uses it. */
  seqc_free_blocks();
  seqc_current_call = outerCall;
  seqc_task_exit = outerExit;
  seqc_blocks = outerBlocks;
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

/* For the Newton form's choice at run time (rec-expand-newton). */
int64_t seqc_num_threads(void) { return seqc_thread_limit(); }

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
  pthread_t ids[kMaxThreads];
  int started[kMaxThreads];
  struct seqc_task tasks[kMaxThreads];
  if (threads < 1)
    threads = 1;
  for (int64_t i = 0; i < threads; ++i) {
    tasks[i].fn = fn;
    tasks[i].ctx = ctx;
    tasks[i].begin = n * i / threads;
    tasks[i].end = n * (i + 1) / threads;
    tasks[i].call = seqc_current_call;
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
  struct seqc_call *call = seqc_current_call;
  if (call && __atomic_load_n(&call->failed, __ATOMIC_SEQ_CST))
    seqc_fail(call);
}

/*===----------------------------------------------------------------------===*
 * The scan's plan
 *===----------------------------------------------------------------------===*/

/* A block of channels narrower than this streams poorly (and a row of fewer
 * channels is not split across threads at all). */
static const int64_t kMinBlockChannels = 128;
/* Below this many bytes moved, starting threads three times costs more than
 * a split saves. */
static const double kMinSplitBytes = 16.0 * 1024 * 1024;
/* Starting and joining the threads of one parallel phase, in seconds. */
static const double kPhaseOverhead = 50e-6;
/* Each array of the calibration triad: 32 MiB, far beyond any private cache. */
enum { kCalibrationFloats = 8 << 20 };

static struct {
  double one, all; /* bytes per second on one thread, on all threads */
  int64_t threads; /* what "all" was */
} seqc_bandwidth;
static pthread_once_t seqc_bandwidth_once = PTHREAD_ONCE_INIT;

struct seqc_triad {
  float *a, *b, *c;
};

static void seqc_triad_body(void *ctx, int64_t begin, int64_t end) {
  struct seqc_triad *t = (struct seqc_triad *)ctx;
  for (int64_t i = begin; i < end; ++i)
    t->a[i] = t->b[i] + 0.5f * t->c[i];
}

static void seqc_touch_body(void *ctx, int64_t begin, int64_t end) {
  struct seqc_triad *t = (struct seqc_triad *)ctx;
  for (int64_t i = begin; i < end; ++i) {
    t->a[i] = 0.0f;
    t->b[i] = 1.0f;
    t->c[i] = 2.0f;
  }
}

static double seqc_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* Bytes per second of the best of three triads on (at most) `threads`. */
static double seqc_time_triad(struct seqc_triad *t, int64_t threads) {
  double best = 1e30;
  for (int round = 0; round < 3; ++round) {
    double start = seqc_now();
    if (threads <= 1)
      seqc_triad_body(t, 0, kCalibrationFloats);
    else
      seqc_parallel_for(kCalibrationFloats, seqc_triad_body, t, INT64_MAX / kCalibrationFloats);
    double elapsed = seqc_now() - start;
    if (elapsed < best)
      best = elapsed;
  }
  return 3.0 * sizeof(float) * kCalibrationFloats / (best > 1e-9 ? best : 1e-9);
}

static void seqc_measure_bandwidth(void) {
  int64_t threads = seqc_thread_limit();
  seqc_bandwidth.threads = threads;
  /* SEQC_BANDWIDTH="ONE,ALL" in GB/s skips the measurement. */
  const char *env = getenv("SEQC_BANDWIDTH");
  if (env && *env) {
    char *rest = 0;
    double one = strtod(env, &rest);
    if (rest && *rest == ',') {
      char *end = 0;
      double all = strtod(rest + 1, &end);
      if (end && *end == 0 && one > 0 && all > 0) {
        seqc_bandwidth.one = one * 1e9;
        seqc_bandwidth.all = all * 1e9;
        return;
      }
    }
  }
  struct seqc_triad t;
  t.a = (float *)malloc(sizeof(float) * kCalibrationFloats);
  t.b = (float *)malloc(sizeof(float) * kCalibrationFloats);
  t.c = (float *)malloc(sizeof(float) * kCalibrationFloats);
  if (!t.a || !t.b || !t.c) {
    /* No memory to measure with: assume bandwidth grows with the threads,
     * which makes no split look worse than it is. */
    seqc_bandwidth.one = 10e9;
    seqc_bandwidth.all = 10e9 * threads;
  } else {
    seqc_parallel_for(kCalibrationFloats, seqc_touch_body, &t, INT64_MAX / kCalibrationFloats);
    seqc_bandwidth.one = seqc_time_triad(&t, 1);
    seqc_bandwidth.all = threads > 1 ? seqc_time_triad(&t, threads) : seqc_bandwidth.one;
    if (seqc_bandwidth.all < seqc_bandwidth.one)
      seqc_bandwidth.all = seqc_bandwidth.one;
  }
  free(t.a);
  free(t.b);
  free(t.c);
}

/* Bytes per second that p threads stream together: each as fast as one
 * alone until the memory system saturates. */
static double seqc_bandwidth_of(int64_t p) {
  double linear = seqc_bandwidth.one * (double)p;
  return linear < seqc_bandwidth.all ? linear : seqc_bandwidth.all;
}

/* Predicted seconds for `items` independent (row, channel block) scans of
 * `steps` steps, each step moving `bytesPerStep` (as the triad counts them:
 * two arrays read, one written), split `splits` ways in time on `threads`.
 * The three-phase split gives every item a first chunk of s0 steps scanned
 * from the true initial state and `splits` chunks of w steps: phase 1 scans
 * the first chunk while the others reduce all but the last (reading a and b:
 * 2/3 of a scanned step's bytes); phase 3 scans them. With 3 s0 = 2 w the
 * phases balance, and each item costs 5/3 w scanned steps. (Measured on one
 * thread of the development machine, a reduced step costs 0.73 of a scanned
 * one: a thread's bandwidth there is bounded by its outstanding misses, not
 * by the write-backs.) */
static double seqc_predict(int64_t items, int64_t steps, double bytesPerStep, int64_t splits,
                           int64_t threads) {
  int64_t n = items * splits;
  int64_t p = n < threads ? n : threads;
  double perThread = seqc_bandwidth_of(p) / (double)p;
  double waves = (double)((n + p - 1) / p);
  if (splits == 1)
    return waves * (double)steps * bytesPerStep / perThread + kPhaseOverhead;
  double w = 3.0 * (double)steps / (3.0 * (double)splits + 2.0);
  return waves * (5.0 / 3.0) * w * bytesPerStep / perThread + 3 * kPhaseOverhead;
}

/* The chained split (convert-linear-scan-to-loops): each thread reduces a
 * chunk small enough for its L2, then scans it again from there, so memory
 * sees the sequential scan's traffic; what it adds is the second pass over
 * the cached chunk, counted as this fraction of a step from memory. */
static const double kChainedRereadCost = 0.15;

static double seqc_predict_chained(int64_t items, int64_t steps, double bytesPerStep,
                                   int64_t lanes, int64_t threads) {
  int64_t n = items * lanes;
  int64_t p = n < threads ? n : threads;
  double bytes = (double)items * (double)steps * bytesPerStep;
  /* Bounded by the memory system, or by each thread's own streaming rate. */
  double shared = bytes / seqc_bandwidth_of(p);
  double own = (1.0 + kChainedRereadCost) * bytes / (double)p / seqc_bandwidth.one;
  return (shared > own ? shared : own) + kPhaseOverhead;
}

void seqc_pause(void) { sched_yield(); }

enum seqc_strategy { kRows, kThreePhase, kChained };
static const char *const seqc_strategy_names[] = {"rows and channel blocks only",
                                                  "three-phase time split",
                                                  "chained time split"};

/* SEQC_SCAN_SPLIT: unset or "auto" (the cost model), "none", or
 * "phases[:N]" / "chained[:N]" to force a time split into N lanes per row
 * (default: the thread count). Returns 0 when the cost model decides. */
static int seqc_forced_split(enum seqc_strategy *strategy, int64_t *lanes, int64_t threads) {
  const char *env = getenv("SEQC_SCAN_SPLIT");
  if (!env || !*env)
    return 0;
  const char *rest = 0;
  if (strncmp(env, "none", 4) == 0) {
    *strategy = kRows;
    *lanes = 1;
    return 1;
  }
  if (strncmp(env, "phases", 6) == 0) {
    *strategy = kThreePhase;
    rest = env + 6;
  } else if (strncmp(env, "chained", 7) == 0) {
    *strategy = kChained;
    rest = env + 7;
  } else {
    return 0;
  }
  *lanes = threads;
  if (*rest == ':') {
    char *end = 0;
    long value = strtol(rest + 1, &end, 10);
    if (end && *end == 0 && value > 0)
      *lanes = value;
  }
  return 1;
}

/* The plan for a scan of `rows` batch rows of `channels` f32 channels over
 * `steps` steps: lanes (threads per row and channel block, 1 = no time
 * split) in bits 0-31, channel blocks in bits 32-47, bit 62 set for the
 * chained strategy (else three-phase). */
int64_t seqc_scan_plan(int64_t rows, int64_t steps, int64_t channels) {
  int64_t threads = seqc_thread_limit();
  int64_t blocks = 1;
  if (rows > 0 && rows < threads && channels >= 2 * kMinBlockChannels) {
    blocks = (threads + rows - 1) / rows;
    if (blocks > channels / kMinBlockChannels)
      blocks = channels / kMinBlockChannels;
    if (blocks > 0xffff)
      blocks = 0xffff;
  }
  int64_t items = rows * blocks;
  int64_t lanes = 1;
  enum seqc_strategy strategy = kRows;
  const char *why = items >= threads ? "rows and channel blocks fill the threads"
                                     : "too few steps to split";
  if (seqc_forced_split(&strategy, &lanes, threads)) {
    why = "SEQC_SCAN_SPLIT";
  } else if (items > 0 && items < threads && steps > 1) {
    double bytesPerStep = 3.0 * sizeof(float) * (double)channels / (double)blocks;
    why = "too little work to pay for threads";
    if ((double)items * (double)steps * bytesPerStep >= kMinSplitBytes) {
      pthread_once(&seqc_bandwidth_once, seqc_measure_bandwidth);
      why = "the cost model";
      double best = seqc_predict(items, steps, bytesPerStep, 1, threads);
      for (int64_t s = 2; s <= threads; ++s) {
        double phases = seqc_predict(items, steps, bytesPerStep, s, threads);
        double chained = seqc_predict_chained(items, steps, bytesPerStep, s, threads);
        if (phases < best) {
          best = phases;
          lanes = s;
          strategy = kThreePhase;
        }
        if (chained < best) {
          best = chained;
          lanes = s;
          strategy = kChained;
        }
      }
    }
  }
  if (lanes > steps)
    lanes = steps > 1 ? steps : 1;
  if (lanes > 0xffffffff)
    lanes = 0xffffffff;
  if (lanes <= 1) {
    lanes = 1;
    strategy = kRows;
  }
  /* SEQC_VERBOSE: say what was chosen, and why, on stderr. */
  const char *verbose = getenv("SEQC_VERBOSE");
  if (verbose && *verbose && *verbose != '0')
    fprintf(stderr,
            "seqc: scan of %lld row(s) x %lld channel(s) over %lld step(s) on %lld thread(s): "
            "%lld channel block(s), %s, %lld lane(s) per row (%s; bandwidth %.1f GB/s on one "
            "thread, %.1f on all)\n",
            (long long)rows, (long long)channels, (long long)steps, (long long)threads,
            (long long)blocks, seqc_strategy_names[strategy], (long long)lanes, why,
            seqc_bandwidth.one / 1e9, seqc_bandwidth.all / 1e9);
  return (strategy == kChained ? (int64_t)1 << 62 : 0) | (blocks << 32) | lanes;
}

/* After every Newton solve (rec-expand-newton): how many linear solves it
 * took, whether it converged, and the residual it ended at. Silent unless
 * SEQC_VERBOSE is set; a kernel whose Newton did not converge has already
 * run the recurrence sequentially, so this is information, not an error. */
void seqc_newton_report(int64_t iterations, int32_t converged, float residual) {
  const char *verbose = getenv("SEQC_VERBOSE");
  if (!(verbose && *verbose && *verbose != '0'))
    return;
  if (converged)
    fprintf(stderr, "seqc: Newton converged after %lld iteration(s) (residual %.3g)\n",
            (long long)iterations, (double)residual);
  else
    fprintf(stderr,
            "seqc: Newton did not converge after %lld iteration(s) (residual %.3g); "
            "ran the recurrence sequentially\n",
            (long long)iterations, (double)residual);
}

/* Called by a chunked-form kernel that found a negative (or NaN) decay in
 * its call and so runs the matrix state's recurrence sequentially (the
 * chunked form works on log decays). Silent unless SEQC_VERBOSE is set. */
void seqc_chunk_fallback_report(void) {
  const char *verbose = getenv("SEQC_VERBOSE");
  if (verbose && *verbose && *verbose != '0')
    fprintf(stderr, "seqc: chunked form: a decay of this call is negative or NaN; ran the "
                    "recurrence sequentially\n");
}
