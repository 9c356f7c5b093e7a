/* A kernel whose working buffers cannot be allocated returns 3 and frees
 * what it had allocated; the caller goes on. The address space is capped
 * with RLIMIT_AS just above what the caller's own arrays use, so the
 * kernel's [B, T, H] intermediates cannot be mapped (and no thread can
 * start: the runtime then runs the work on the calling thread). */
#include "mingru.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static long virtual_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0;
  if (!f || fscanf(f, "%ld", &pages) != 1)
    pages = -1;
  if (f)
    fclose(f);
  return pages * 4096;
}

int main(void) {
  const long B = 1, T = 1L << 18, D = 64, H = 128;
  float *x = calloc(B * T * D, sizeof(float));
  float *Wz = calloc(H * D, sizeof(float)), *Wh = calloc(H * D, sizeof(float));
  float *y = calloc(B * T * H, sizeof(float)), *h = calloc(B * H, sizeof(float));
  if (!x || !Wz || !Wh || !y || !h)
    return 99;
  for (long i = 0; i < B * T * D; ++i)
    x[i] = (float)(i % 7) / 7.0f;
  for (long i = 0; i < H * D; ++i)
    Wz[i] = Wh[i] = (float)(i % 5) / 50.0f;

  struct rlimit original;
  getrlimit(RLIMIT_AS, &original);
  long before = virtual_bytes();
  struct rlimit capped = original;
  capped.rlim_cur = (rlim_t)(before + (16L << 20));
  if (setrlimit(RLIMIT_AS, &capped) != 0)
    return 98;
  int failures = 0;
  for (int i = 0; i < 20; ++i)
    failures += mingru_forward(B, T, x, Wz, Wh, NULL, y, h) == 3;
  long after = virtual_bytes();
  setrlimit(RLIMIT_AS, &original);
  printf("capped calls returning 3: %d of 20\n", failures);
  /* Nothing the failed calls allocated stays mapped. */
  printf("address space grew by less than 8 MiB: %s\n",
         after - before < (8L << 20) ? "yes" : "no");
  int status = mingru_forward(B, T, x, Wz, Wh, NULL, y, h);
  printf("uncapped call returns %d\n", status);
  /* h = (1 - z) h + z hc from h = 0, with hc >= 0: finite and >= 0. */
  int sane = 1;
  for (long i = 0; i < B * T * H; i += 4099)
    sane &= y[i] >= 0.0f && y[i] < 1e6f;
  printf("outputs sane: %s\n", sane ? "yes" : "no");
  return 0;
}
